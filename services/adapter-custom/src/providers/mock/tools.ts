import type { ChatRequest, FunctionDefinition } from "@llmmesh/proto";

/** Characters per streamed argument fragment: several fragments even for small argument objects. */
const FRAGMENT_CHARS = 8;

/**
 * The tool the mock calls, as a model would: none without tools or with
 * tool_choice "none"; the forced function when tool_choice names one; else the first.
 */
export function chooseTool(request: ChatRequest): FunctionDefinition | undefined {
  const choice = request.toolChoice?.choice;
  if (request.tools.length === 0 || (choice?.case === "mode" && choice.value === "none")) return undefined;
  const functions = request.tools.flatMap((tool) => (tool.function === undefined ? [] : [tool.function]));
  if (choice?.case === "functionName") return functions.find((fn) => fn.name === choice.value) ?? functions[0];
  return functions[0];
}

/**
 * Deterministic JSON arguments from a tool's JSON Schema: one value per
 * property — the first `enum` value, else "mock" for strings, 1 for numbers,
 * true for booleans, [] for arrays, {} for objects, null otherwise.
 */
export function mockArguments(parametersJson: string | undefined): string {
  const args: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(propertiesOf(parametersJson))) {
    args[name] = sampleValue(schema);
  }
  return JSON.stringify(args);
}

/** Splits arguments into the fragments a stream sends, in order. */
export function argumentFragments(args: string): string[] {
  const fragments: string[] = [];
  for (let i = 0; i < args.length; i += FRAGMENT_CHARS) fragments.push(args.slice(i, i + FRAGMENT_CHARS));
  return fragments;
}

function propertiesOf(parametersJson: string | undefined): Record<string, unknown> {
  if (parametersJson === undefined) return {};
  try {
    const schema: unknown = JSON.parse(parametersJson);
    return isRecord(schema) && isRecord(schema.properties) ? schema.properties : {};
  } catch {
    return {}; // a schema we cannot read gets empty arguments, as a lenient model would
  }
}

function sampleValue(schema: unknown): unknown {
  if (!isRecord(schema)) return null;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  // `type` may be a list (["string", "null"]): the first type decides.
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return "mock";
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return {};
    default:
      return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
