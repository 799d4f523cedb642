/**
 * `tools` and `tool_choice` of a Messages request → function tools and a
 * ToolChoice. Only client tools (`type` absent or `"custom"`) have an
 * OpenAI form; Anthropic's server tools (web search, code execution, ...)
 * run inside Anthropic and are refused by name.
 */
import { create } from "@bufbuild/protobuf";
import { FunctionDefinitionSchema, ToolChoiceSchema, ToolSchema, type Tool, type ToolChoice } from "@llmmesh/proto";
import { childParam, expectArray, expectBoolean, expectObject, expectString, WireError } from "@llmmesh/openai-wire";

/** Anthropic's rule for tool names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

/** Parses `tools`; names must be unique, as Anthropic requires. */
export function toolsFromJson(value: unknown): Tool[] {
  const names = new Set<string>();
  return expectArray(value, "tools").map((item, i) => {
    const param = childParam("tools", i);
    const tool = toolFromJson(item, param);
    const name = tool.function?.name ?? "";
    if (names.has(name)) throw new WireError(`${childParam(param, "name")}: tool names must be unique, '${name}' is repeated`, childParam(param, "name"));
    names.add(name);
    return tool;
  });
}

function toolFromJson(value: unknown, param: string): Tool {
  const json = expectObject(value, param);
  if (json.type !== undefined && json.type !== null && json.type !== "custom") {
    const typeParam = childParam(param, "type");
    throw new WireError(
      `${typeParam}: server tool '${String(json.type)}' is not supported by this gateway; only client tools (with 'input_schema') are`,
      typeParam,
    );
  }
  const nameParam = childParam(param, "name");
  const name = expectString(json.name, nameParam);
  if (!TOOL_NAME.test(name)) throw new WireError(`${nameParam}: must match ${TOOL_NAME.source}`, nameParam);
  const schemaParam = childParam(param, "input_schema");
  const schema = expectObject(json.input_schema, schemaParam);
  if (schema.type !== "object") {
    throw new WireError(`${childParam(schemaParam, "type")}: must be 'object'`, childParam(schemaParam, "type"));
  }
  const definition = create(FunctionDefinitionSchema, { name, parametersJson: JSON.stringify(schema) });
  if (json.description !== undefined && json.description !== null) {
    definition.description = expectString(json.description, childParam(param, "description"));
  }
  if (json.strict !== undefined && json.strict !== null) definition.strict = expectBoolean(json.strict, childParam(param, "strict"));
  // cache_control, defer_loading, input_examples, ...: hints for Anthropic's
  // own serving with no OpenAI counterpart; they do not change what a call means.
  return create(ToolSchema, { type: "function", function: definition });
}

/** How `tool_choice` translates. */
export interface ParsedToolChoice {
  /** Unset for `auto` without tools, which OpenAI would refuse and which means nothing anyway. */
  choice?: ToolChoice;
  /** `false` when the client sent `disable_parallel_tool_use: true`. */
  parallelToolCalls?: boolean;
}

/**
 * Parses `tool_choice` against the request's tools: auto → "auto",
 * any → "required", tool → the named function, none → "none".
 */
export function toolChoiceFromJson(value: unknown, tools: readonly Tool[]): ParsedToolChoice {
  const param = "tool_choice";
  const json = expectObject(value, param);
  const type = expectString(json.type, childParam(param, "type"));
  const parsed: ParsedToolChoice = {};
  const disable = json.disable_parallel_tool_use;
  if (disable !== undefined && disable !== null && expectBoolean(disable, childParam(param, "disable_parallel_tool_use"))) {
    parsed.parallelToolCalls = false;
  }
  switch (type) {
    case "auto":
    case "none":
      if (tools.length > 0) parsed.choice = mode(type);
      break;
    case "any":
      requireTools(tools, type);
      parsed.choice = mode("required");
      break;
    case "tool": {
      requireTools(tools, type);
      const nameParam = childParam(param, "name");
      const name = expectString(json.name, nameParam);
      if (!tools.some((tool) => tool.function?.name === name)) {
        throw new WireError(`${nameParam}: no tool named '${name}' in 'tools'`, nameParam);
      }
      parsed.choice = create(ToolChoiceSchema, { choice: { case: "functionName", value: name } });
      break;
    }
    default:
      throw new WireError(`${childParam(param, "type")}: expected 'auto', 'any', 'tool' or 'none', got '${type}'`, childParam(param, "type"));
  }
  // Without tools there is nothing to call, in parallel or not.
  if (tools.length === 0) delete parsed.parallelToolCalls;
  return parsed;
}

function mode(value: string): ToolChoice {
  return create(ToolChoiceSchema, { choice: { case: "mode", value } });
}

function requireTools(tools: readonly Tool[], type: string): void {
  if (tools.length === 0) throw new WireError(`tool_choice: '${type}' needs at least one tool in 'tools'`, "tool_choice");
}
