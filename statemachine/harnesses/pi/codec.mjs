// The message codec between sessionspec's one message model (spec/SPEC.md WIRE-001/002/003,
// opi's JSON form) and pi's message shapes (@mariozechner/pi-ai `Message`).
//
// The two models say the same things with different names: `timestamp_ms` and `timestamp`,
// `tool_result` and `toolResult`, a tool call's `arguments` as a JSON document in a string
// and as an object, the usage counters `input_tokens` and `input`, ... A value one side cannot
// express is a typed error (CodecError), never dropped: pi's images are base64 only, and pi's
// tool-call arguments are JSON objects.

export class CodecError extends Error {
  constructor(message) {
    super(message);
    this.name = "CodecError";
  }
}

// Our `api` (WIRE-004) and pi's API identifiers.
const API_TO_PI = {
  Anthropic: "anthropic-messages",
  OpenAi: "openai-responses",
  Google: "google-generative-ai",
  Mistral: "mistral-conversations",
};
const API_FROM_PI = Object.fromEntries(Object.entries(API_TO_PI).map(([k, v]) => [v, k]));

// Our stop reasons (WIRE-004) and pi's.
const STOP_TO_PI = { stop: "stop", length: "length", tool_use: "toolUse", error: "error", aborted: "aborted" };
const STOP_FROM_PI = Object.fromEntries(Object.entries(STOP_TO_PI).map(([k, v]) => [v, k]));

function lookup(table, value, what) {
  if (!Object.prototype.hasOwnProperty.call(table, value)) {
    throw new CodecError(`${what} ${JSON.stringify(value)} has no counterpart`);
  }
  return table[value];
}

function inputBlockToPi(block) {
  if (block.type === "text") return { type: "text", text: block.text };
  if (block.type === "image") {
    if (block.source?.type !== "base64") {
      throw new CodecError(`pi stores base64 images only, not ${JSON.stringify(block.source?.type)}`);
    }
    return { type: "image", data: block.source.data, mimeType: block.media_type };
  }
  throw new CodecError(`unknown content block ${JSON.stringify(block.type)}`);
}

function inputBlockFromPi(block) {
  if (block.type === "text") return { type: "text", text: block.text };
  if (block.type === "image") {
    return { type: "image", source: { type: "base64", data: block.data }, media_type: block.mimeType };
  }
  throw new CodecError(`unknown pi content block ${JSON.stringify(block.type)}`);
}

function usageToPi(usage) {
  const u = usage ?? {};
  const input = u.input_tokens ?? 0;
  const output = u.output_tokens ?? 0;
  const cacheRead = u.cache_read_tokens ?? 0;
  const cacheWrite = u.cache_write_tokens ?? 0;
  return {
    input,
    output,
    cacheRead,
    cacheWrite,
    totalTokens: input + output + cacheRead + cacheWrite,
    cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
  };
}

export function usageFromPi(usage) {
  const u = usage ?? {};
  return {
    input_tokens: u.input ?? 0,
    output_tokens: u.output ?? 0,
    cache_read_tokens: u.cacheRead ?? 0,
    cache_write_tokens: u.cacheWrite ?? 0,
  };
}

function assistantBlockToPi(block) {
  if (block.type === "text") return { type: "text", text: block.text };
  if (block.type === "thinking") return { type: "thinking", thinking: block.thinking };
  if (block.type === "tool_call") {
    const call = block.tool_call;
    let args;
    try {
      args = JSON.parse(call.arguments);
    } catch {
      throw new CodecError(`tool call ${call.id}: arguments are not JSON, pi needs an object`);
    }
    if (args === null || typeof args !== "object" || Array.isArray(args)) {
      throw new CodecError(`tool call ${call.id}: pi's arguments must be a JSON object`);
    }
    return { type: "toolCall", id: call.id, name: call.name, arguments: args };
  }
  throw new CodecError(`unknown assistant block ${JSON.stringify(block.type)}`);
}

function assistantBlockFromPi(block) {
  if (block.type === "text") return { type: "text", text: block.text };
  if (block.type === "thinking") return { type: "thinking", thinking: block.thinking };
  if (block.type === "toolCall") {
    return {
      type: "tool_call",
      tool_call: { id: block.id, name: block.name, arguments: JSON.stringify(block.arguments) },
    };
  }
  throw new CodecError(`unknown pi assistant block ${JSON.stringify(block.type)}`);
}

/** Our wire-form message (WIRE-001) as the message pi's `appendMessage` takes. */
export function messageToPi(message) {
  if (message === null || typeof message !== "object") {
    throw new CodecError("a message must be a JSON object");
  }
  switch (message.role) {
    case "user":
      return {
        role: "user",
        content: (message.content ?? []).map(inputBlockToPi),
        timestamp: message.timestamp_ms,
      };
    case "assistant": {
      const out = {
        role: "assistant",
        content: (message.content ?? []).map(assistantBlockToPi),
        api: lookup(API_TO_PI, message.api, "api"),
        provider: message.provider,
        model: message.model,
        usage: usageToPi(message.usage),
        stopReason: lookup(STOP_TO_PI, message.stop_reason, "stop reason"),
        timestamp: message.timestamp_ms,
      };
      if (message.response_model != null) out.responseModel = message.response_model;
      if (message.response_id != null) out.responseId = message.response_id;
      if (message.error_message != null) out.errorMessage = message.error_message;
      return out;
    }
    case "tool_result": {
      if (message.truncated) {
        throw new CodecError(`tool result ${message.tool_call_id}: pi has no 'truncated' flag`);
      }
      const out = {
        role: "toolResult",
        toolCallId: message.tool_call_id,
        toolName: message.tool_name,
        content: (message.content ?? []).map(inputBlockToPi),
        isError: Boolean(message.is_error),
        timestamp: message.timestamp_ms,
      };
      if (message.details != null) out.details = message.details;
      return out;
    }
    default:
      throw new CodecError(`unknown role ${JSON.stringify(message.role)}`);
  }
}

/** A message of pi's context in our wire form (WIRE-001: every optional value present). */
export function messageFromPi(message) {
  switch (message.role) {
    case "user": {
      const content =
        typeof message.content === "string"
          ? [{ type: "text", text: message.content }]
          : message.content.map(inputBlockFromPi);
      return { role: "user", content, timestamp_ms: message.timestamp };
    }
    case "assistant":
      return {
        role: "assistant",
        content: message.content.map(assistantBlockFromPi),
        api: API_FROM_PI[message.api] ?? message.api,
        provider: message.provider,
        model: message.model,
        response_model: message.responseModel ?? null,
        response_id: message.responseId ?? null,
        usage: usageFromPi(message.usage),
        stop_reason: STOP_FROM_PI[message.stopReason] ?? message.stopReason,
        error_message: message.errorMessage ?? null,
        timestamp_ms: message.timestamp,
      };
    case "toolResult":
      return {
        role: "tool_result",
        tool_call_id: message.toolCallId,
        tool_name: message.toolName,
        content: message.content.map(inputBlockFromPi),
        details: message.details ?? null,
        is_error: message.isError,
        truncated: false,
        timestamp_ms: message.timestamp,
      };
    default:
      // pi's own message kinds (bashExecution, custom, branchSummary) never come from us.
      throw new CodecError(`pi message role ${JSON.stringify(message.role)} has no counterpart`);
  }
}
