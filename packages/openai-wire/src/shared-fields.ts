/**
 * The request fields chat completions and text completions share — same
 * name, meaning and limits — read and written in one place, so the two
 * endpoints cannot drift apart.
 */
import { WireError } from "./errors.js";
import { childParam, expectBoolean, expectInteger, expectNumber, expectObject, expectString, ExtraFields, int64ToNumber, parseStoredJson, unmodelledKeys } from "./guards.js";

/** Longest model name accepted; longer ones are certainly not configured. */
const MAX_MODEL_LENGTH = 256;
/** OpenAI accepts at most four stop sequences. */
const MAX_STOP_SEQUENCES = 4;

/** The shared fields as both proto requests (ChatRequest, CompletionRequest) hold them. */
export interface SharedRequestFields {
  temperature?: number;
  topP?: number;
  n?: bigint;
  stop: string[];
  stopIsString: boolean;
  seed?: bigint;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBiasJson?: string;
  user?: string;
  includeUsage: boolean;
}

/** The shared fields as both JSON bodies spell them. */
export interface SharedRequestFieldsJson {
  temperature?: number;
  top_p?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  user?: string;
}

/**
 * Reads `key` into `req` when it is one of the shared fields (`stream_options`
 * included) and returns true; returns false for any other key, which is the
 * caller's. Throws WireError naming the field for a value out of type or range.
 */
export function readSharedField(req: SharedRequestFields, key: string, v: unknown, extra: ExtraFields): boolean {
  switch (key) {
    case "temperature":
      req.temperature = expectNumber(v, key, { min: 0, max: 2 });
      return true;
    case "top_p":
      req.topP = expectNumber(v, key, { min: 0, max: 1 });
      return true;
    case "n":
      req.n = expectInteger(v, key, { min: 1 });
      return true;
    case "stop":
      parseStop(v, req, extra);
      return true;
    case "seed":
      req.seed = expectInteger(v, key);
      return true;
    case "presence_penalty":
      req.presencePenalty = expectNumber(v, key);
      return true;
    case "frequency_penalty":
      req.frequencyPenalty = expectNumber(v, key);
      return true;
    case "logit_bias":
      req.logitBiasJson = JSON.stringify(parseLogitBias(v));
      return true;
    case "user":
      req.user = expectString(v, key);
      return true;
    case "stream_options":
      parseStreamOptions(v, req, extra);
      return true;
    default:
      return false;
  }
}

/** Writes the shared fields that are set into `out` (`stream_options` is the adapter's to write). */
export function writeSharedFields(req: SharedRequestFields, out: SharedRequestFieldsJson): void {
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.topP !== undefined) out.top_p = req.topP;
  if (req.n !== undefined) out.n = int64ToNumber(req.n);
  if (req.stop.length > 0) out.stop = req.stopIsString && req.stop.length === 1 ? req.stop[0] : [...req.stop];
  if (req.seed !== undefined) out.seed = int64ToNumber(req.seed);
  if (req.presencePenalty !== undefined) out.presence_penalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) out.frequency_penalty = req.frequencyPenalty;
  if (req.logitBiasJson !== undefined) out.logit_bias = parseStoredJson(req.logitBiasJson) as Record<string, number>;
  if (req.user !== undefined) out.user = req.user;
}

/**
 * OpenAI answers `stream_options` without `stream: true` with a 400 naming
 * it (a null is "not set" and accepted).
 */
export function checkStreamOptionsNeedStream(body: Record<string, unknown>, stream: boolean): void {
  if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
    throw new WireError("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
  }
}

/** The client's `model`: a non-empty string of bounded length. */
export function parseModel(v: unknown): string {
  const model = expectString(v, "model");
  if (model.length === 0) throw new WireError("Invalid 'model': expected a non-empty string.", "model");
  if (model.length > MAX_MODEL_LENGTH) {
    throw new WireError(`Invalid 'model': longer than ${MAX_MODEL_LENGTH} characters.`, "model");
  }
  return model;
}

/** `stop` as a string or up to four strings; an empty list is kept as sent. */
function parseStop(v: unknown, req: { stop: string[]; stopIsString: boolean }, extra: ExtraFields): void {
  if (typeof v === "string") {
    req.stop = [v];
    req.stopIsString = true;
    return;
  }
  if (!Array.isArray(v)) throw new WireError(`Invalid 'stop': expected a string or an array of strings.`, "stop");
  if (v.length > MAX_STOP_SEQUENCES) {
    throw new WireError(`Invalid 'stop': at most ${MAX_STOP_SEQUENCES} sequences, got ${v.length}.`, "stop");
  }
  req.stop = v.map((s, i) => expectString(s, childParam("stop", i)));
  if (req.stop.length === 0) extra.set("stop", []);
}

/** `logit_bias`: an object of numbers. */
function parseLogitBias(v: unknown): Record<string, unknown> {
  const bias = expectObject(v, "logit_bias");
  for (const token of Object.keys(bias)) expectNumber(bias[token], childParam("logit_bias", token));
  return bias;
}

/**
 * `include_usage` is modelled; other stream options (`include_obfuscation`)
 * are kept for the upstream, which gets them with `include_usage` forced on.
 */
function parseStreamOptions(v: unknown, req: { includeUsage: boolean }, extra: ExtraFields): void {
  const options = expectObject(v, "stream_options");
  const include = options.include_usage;
  if (include !== undefined && include !== null) {
    req.includeUsage = expectBoolean(include, "stream_options.include_usage");
  }
  const others = unmodelledKeys(options, ["include_usage"]);
  if (others !== undefined) extra.set("stream_options", others);
}
