/**
 * Content parts (`messages[].content` as an array) ⇄ `ContentPart`. A part of
 * a known type whose JSON the proto cannot express exactly (an extra key such
 * as `cache_control`, a `null` detail) is kept whole as `otherJson`, like an
 * unknown type: losing a field silently would change what the upstream sees.
 */
import { create } from "@bufbuild/protobuf";
import {
  ContentPartSchema,
  FilePartSchema,
  ImageUrlSchema,
  InputAudioSchema,
  type ContentPart,
} from "@llmmesh/proto";
import { WireError } from "./errors.js";
import {
  childParam,
  expectObject,
  expectString,
  hasOnlyKeys,
  isObject,
  parseStoredJson,
  type JsonObject,
} from "./guards.js";
import type { ContentPartJson, FilePartJson, ImageUrlPartJson } from "./types.js";

/**
 * Parses one content part. With `strict` (client input) the required fields
 * of known types are checked and reported by `param`; without it (upstream
 * answers) a malformed known part is kept whole rather than refused.
 */
export function contentPartFromJson(value: unknown, param: string, strict: boolean): ContentPart {
  const part = expectObject(value, param);
  const type = part.type;
  if (typeof type !== "string") {
    if (strict) throw new WireError(`Invalid '${childParam(param, "type")}': expected a string.`, childParam(param, "type"));
    return other(part);
  }
  try {
    const known = knownPart(part, type, param);
    return known ?? other(part);
  } catch (err) {
    if (strict || !(err instanceof WireError)) throw err;
    return other(part);
  }
}

function other(part: JsonObject): ContentPart {
  return create(ContentPartSchema, { part: { case: "otherJson", value: JSON.stringify(part) } });
}

/** The modelled form of a known part, undefined when it must stay whole, or a WireError. */
function knownPart(part: JsonObject, type: string, param: string): ContentPart | undefined {
  switch (type) {
    case "text": {
      const text = expectString(part.text, childParam(param, "text"));
      if (!hasOnlyKeys(part, ["type", "text"])) return undefined;
      return create(ContentPartSchema, { part: { case: "text", value: text } });
    }
    case "image_url": {
      const p = childParam(param, "image_url");
      const image = expectObject(part.image_url, p);
      const url = expectString(image.url, childParam(p, "url"));
      if (image.detail !== undefined && image.detail !== null) expectString(image.detail, childParam(p, "detail"));
      if (!hasOnlyKeys(part, ["type", "image_url"]) || !hasOnlyKeys(image, ["url", "detail"])) return undefined;
      if (image.detail === null) return undefined;
      const detail = typeof image.detail === "string" ? image.detail : undefined;
      return create(ContentPartSchema, {
        part: { case: "imageUrl", value: create(ImageUrlSchema, { url, detail }) },
      });
    }
    case "input_audio": {
      const p = childParam(param, "input_audio");
      const audio = expectObject(part.input_audio, p);
      const data = expectString(audio.data, childParam(p, "data"));
      const format = expectString(audio.format, childParam(p, "format"));
      if (!hasOnlyKeys(part, ["type", "input_audio"]) || !hasOnlyKeys(audio, ["data", "format"])) return undefined;
      return create(ContentPartSchema, {
        part: { case: "inputAudio", value: create(InputAudioSchema, { data, format }) },
      });
    }
    case "file": {
      const p = childParam(param, "file");
      const file = expectObject(part.file, p);
      const fileId = optionalString(file.file_id, childParam(p, "file_id"));
      const fileData = optionalString(file.file_data, childParam(p, "file_data"));
      const filename = optionalString(file.filename, childParam(p, "filename"));
      if (fileId === undefined && fileData === undefined) {
        throw new WireError(`Invalid '${p}': one of 'file_id' or 'file_data' is required.`, p);
      }
      if (!hasOnlyKeys(part, ["type", "file"]) || !hasOnlyKeys(file, ["file_id", "file_data", "filename"])) return undefined;
      if (file.file_id === null || file.file_data === null || file.filename === null) return undefined;
      return create(ContentPartSchema, {
        part: { case: "file", value: create(FilePartSchema, { fileId, fileData, filename }) },
      });
    }
    default:
      return undefined;
  }
}

function optionalString(value: unknown, param: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  return expectString(value, param);
}

/** Renders one content part back to its wire JSON. */
export function contentPartToJson(part: ContentPart): ContentPartJson {
  const p = part.part;
  switch (p.case) {
    case "text":
      return { type: "text", text: p.value };
    case "imageUrl": {
      const image: ImageUrlPartJson["image_url"] = { url: p.value.url };
      if (p.value.detail !== undefined) image.detail = p.value.detail;
      return { type: "image_url", image_url: image };
    }
    case "inputAudio":
      return { type: "input_audio", input_audio: { data: p.value.data, format: p.value.format } };
    case "file": {
      const file: FilePartJson["file"] = {};
      if (p.value.fileId !== undefined) file.file_id = p.value.fileId;
      if (p.value.fileData !== undefined) file.file_data = p.value.fileData;
      if (p.value.filename !== undefined) file.filename = p.value.filename;
      return { type: "file", file };
    }
    case "otherJson": {
      const parsed = parseStoredJson(p.value);
      if (isObject(parsed) && typeof parsed.type === "string") return { ...parsed, type: parsed.type };
      throw new WireError("A stored content part is not a JSON object with a 'type'.");
    }
    default:
      throw new WireError("A content part has no content.");
  }
}
