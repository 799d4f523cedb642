// Preloaded (node --import) into Portkey's gateway process only, never into
// LLM Mesh's: hands Portkey each streamed upstream response as a new Response,
// whose headers it may change.
//
// Portkey 1.15 adds its own headers to a streamed upstream response in place.
// On Node, the headers of a response from fetch() are immutable, so every
// streamed request through it answers 500 ("TypeError: immutable" in its
// updateHeaders; Portkey-AI/gateway#1389 and #1550, fixed upstream by the same
// copy in #1551). Without this the benchmark could not compare streams with it.
// Non-streamed responses pass untouched: this costs them one header lookup.
const { fetch: fetchFromNode, Response } = globalThis;

globalThis.fetch = async function fetchWithChangeableStreamHeaders(input, init) {
  const response = await fetchFromNode(input, init);
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) return response;
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers });
};
