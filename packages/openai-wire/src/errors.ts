/**
 * The one error this package throws: a wire document that does not have the
 * shape OpenAI's API defines. `param` names the offending field the way
 * OpenAI's own errors do (`messages[2].content[0].image_url.url`), so the
 * REST edge can answer 400 with `{"error":{"param": ...}}` unchanged.
 */
export class WireError extends Error {
  constructor(
    message: string,
    /** Path of the offending field, e.g. `messages[1].role`; unset for the whole body. */
    readonly param?: string,
  ) {
    super(message);
    this.name = "WireError";
  }
}
