#!/usr/bin/env node
// sessionspec conformance harness for pi's SessionManager (@mariozechner/pi-coding-agent).
//
// It speaks the driver protocol of spec/PROTOCOL.md (JSON lines over stdin/stdout, version 1)
// and translates each `coordinator.*` command to pi's API, doing no more than pi's own agent
// does with it. It never imitates sessionspec: what pi does not do (lifecycle states,
// accounting records, a compaction threshold) is not added here, so the suite reports it.
//
// Theory of operation. A session named `S` by the runner lives in its own directory
// `<workdir>/sessions/S/`, where pi names its file `<timestamp>_<uuid>.jsonl` itself;
// `coordinator.open` is pi's own resume of a directory (`SessionManager.continueRecent`, what
// `pi --continue` runs), so a restarted harness finds every session again. Operations map as:
//
//   turn_end          one `appendMessage` per message (pi has no turns and no turn usage)
//   compact           pi's `prepareCompaction` on the active branch (token-budget cut), a
//                     deterministic summary instead of the LLM call, `appendCompaction`
//   append_leaf       `branch(entry_id)` (moves the in-memory leaf; pi persists no leaf)
//   extension_state   `appendCustomEntry("sessionspec", value)` (pi's extension state)
//   fork              `createBranchedSession(leaf)` into the fork's own directory, on a
//                     copy of the manager, so the source manager stays on its session
//   close             drops nothing: pi's SessionManager has no close
//   observe           `buildSessionContext()` translated to the one message model, the leaf,
//                     and usage and turns as pi's agent computes its session statistics
//                     (`AgentSession.getSessionStats`: assistant usage and user messages of
//                     the context)
//
// The pi package is resolved from $SESSIONSPEC_PI_NODE_MODULES when set (a node_modules
// folder installed from this directory's package-lock.json), else from ./node_modules.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

import { CodecError, messageFromPi, messageToPi, usageFromPi } from "./codec.mjs";

const PROTOCOL_VERSION = 1;
const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = resolve(process.env.SESSIONSPEC_PI_NODE_MODULES ?? join(HERE, "node_modules"));
const PI_ROOT = join(MODULES, "@mariozechner", "pi-coding-agent");
const EXTENSION_TYPE = "sessionspec";
// Bytes per token in pi's estimate is 4; a summary names what it replaced, no LLM involved.
const DEFAULT_KEEP_RECENT_TOKENS = 20000;

function piModule(relative) {
  return import(pathToFileURL(join(PI_ROOT, "dist", relative)).href);
}

const { SessionManager } = await piModule("core/session-manager.js");
const { prepareCompaction, estimateTokens } = await piModule("core/compaction/compaction.js");
const PI_VERSION = JSON.parse(readFileSync(join(PI_ROOT, "package.json"), "utf8")).version;

// A typed rejection (protocol ErrorType) raised by a handler.
class Rejection extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

const CAPABILITIES = [
  "coordinator",
  "coordinator.leaf",
  "coordinator.extension_state",
  "coordinator.fork",
  "coordinator.copy",
  "crash.kill",
];

let workdir = null;
const handles = new Map(); // handle -> { manager, sessionId, config }

function sessionDir(sessionId) {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(sessionId)) {
    throw new Rejection("caller_error", `session id ${JSON.stringify(sessionId)} cannot name a directory`);
  }
  return join(workdir, "sessions", sessionId);
}

function requireHandle(name) {
  const entry = handles.get(name);
  if (!entry) throw new Rejection("not_found", `no session handle ${JSON.stringify(name)}`);
  return entry;
}

// The cwd pi writes into the header: the runner's workdir (pi needs one; nothing reads it).
function cwd() {
  return workdir;
}

function translateMessages(messages) {
  if (!Array.isArray(messages)) throw new Rejection("caller_error", "messages must be a list");
  try {
    return messages.map(messageToPi);
  } catch (error) {
    if (error instanceof CodecError) throw new Rejection("caller_error", error.message);
    throw error;
  }
}

function keepRecentTokens(config) {
  return config?.policy === "token_budget" && typeof config.keep_tokens === "number"
    ? config.keep_tokens
    : DEFAULT_KEEP_RECENT_TOKENS;
}

// The context pi would send next, its item ids, usage and turns.
function observe(manager) {
  const context = manager.buildSessionContext();
  const branch = manager.getBranch();
  const byMessage = new Map();
  let compactionId = null;
  for (const entry of branch) {
    if (entry.type === "message") byMessage.set(entry.message, entry.id);
    if (entry.type === "compaction") compactionId = entry.id;
  }
  const items = [];
  const ids = [];
  const usage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
  let turns = 0;
  for (const message of context.messages) {
    if (message.role === "compactionSummary") {
      // pi names no summary item; the harness calls it after its compaction entry.
      items.push({ type: "compaction_summary", compaction_entry_id: compactionId, summary: message.summary });
      ids.push(`${compactionId}/summary`);
      continue;
    }
    items.push(messageFromPi(message));
    ids.push(byMessage.get(message) ?? null);
    if (message.role === "assistant") {
      const counted = usageFromPi(message.usage);
      for (const key of Object.keys(usage)) usage[key] += counted[key];
    }
    if (message.role === "user") turns += 1;
  }
  return { context: items, ids, tip: manager.getLeafId(), usage, turns, state: "ready" };
}

function summaryOf(preparation) {
  const parts = [...preparation.messagesToSummarize, ...preparation.turnPrefixMessages];
  return `Summary of ${parts.length} messages (sessionspec pi harness; no LLM)`;
}

// A copy of a manager that shares nothing mutable with it (for a fork).
function detachedCopy(manager) {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(manager)), manager);
  copy.fileEntries = [...manager.fileEntries];
  copy.byId = new Map(manager.byId);
  copy.labelsById = new Map(manager.labelsById);
  copy.labelTimestampsById = new Map(manager.labelTimestampsById);
  return copy;
}

const HANDLERS = {
  start(args) {
    if (args.version !== PROTOCOL_VERSION) {
      throw new Rejection("caller_error", `protocol version ${args.version} is not ${PROTOCOL_VERSION}`);
    }
    workdir = resolve(args.workdir);
    mkdirSync(join(workdir, "sessions"), { recursive: true });
    return {
      version: PROTOCOL_VERSION,
      implementation: {
        name: "pi SessionManager",
        version: PI_VERSION,
        language: "javascript",
        homepage: "https://www.npmjs.com/package/@mariozechner/pi-coding-agent",
      },
      capabilities: CAPABILITIES,
      crash_points: [],
    };
  },

  "coordinator.new"(args) {
    const dir = sessionDir(args.session_id);
    if (existsSync(dir)) throw new Rejection("caller_error", `session ${args.session_id} exists`);
    mkdirSync(dir, { recursive: true });
    const manager = SessionManager.create(cwd(), dir);
    manager.newSession({ id: args.session_id });
    handles.set(args.handle, { manager, sessionId: args.session_id, config: args.config });
    return { session_id: args.session_id };
  },

  "coordinator.open"(args) {
    const dir = sessionDir(args.session_id);
    if (!existsSync(dir)) throw new Rejection("not_found", `no session ${args.session_id}`);
    // pi's resume of a directory: its most recent session file, or a new one when none.
    const manager = SessionManager.continueRecent(cwd(), dir);
    handles.set(args.handle, { manager, sessionId: args.session_id, config: args.config });
    return { recovery: [] };
  },

  "coordinator.turn_end"(args) {
    const { manager } = requireHandle(args.handle);
    const messages = translateMessages(args.messages);
    for (const message of messages) manager.appendMessage(message);
    // pi's session layer never decides compaction (its agent compares the context with the
    // model's window); the turn's usage has no place in pi's session.
    return { compaction_due: null };
  },

  "coordinator.compact"(args) {
    const { manager, config } = requireHandle(args.handle);
    const settings = { enabled: config?.enabled ?? true, reserveTokens: 16384, keepRecentTokens: keepRecentTokens(config) };
    const branch = manager.getBranch();
    const preparation = prepareCompaction(branch, settings);
    if (preparation === undefined) return { compaction: null };
    const summary = summaryOf(preparation);
    const entryId = manager.appendCompaction(summary, preparation.firstKeptEntryId, preparation.tokensBefore);
    const kept = manager.buildSessionContext().messages.filter((m) => m.role !== "compactionSummary");
    const tokensAfter = kept.reduce((sum, m) => sum + estimateTokens(m), 0);
    return {
      compaction: {
        summary,
        first_kept_entry_id: preparation.firstKeptEntryId,
        tokens_before: preparation.tokensBefore,
        tokens_after: tokensAfter,
        entry_id: entryId,
      },
    };
  },

  "coordinator.append_leaf"(args) {
    const { manager } = requireHandle(args.handle);
    try {
      manager.branch(args.entry_id);
    } catch (error) {
      throw new Rejection("unknown_entry", error.message);
    }
    return {};
  },

  "coordinator.append_extension_state"(args) {
    const { manager } = requireHandle(args.handle);
    return { entry_id: manager.appendCustomEntry(EXTENSION_TYPE, args.value) };
  },

  "coordinator.fork"(args) {
    const { manager } = requireHandle(args.handle);
    const dir = sessionDir(args.session_id);
    if (existsSync(dir)) throw new Rejection("caller_error", `session ${args.session_id} exists`);
    mkdirSync(dir, { recursive: true });
    const copy = detachedCopy(manager);
    copy.sessionDir = dir;
    try {
      copy.createBranchedSession(manager.getLeafId());
    } catch (error) {
      // pi refuses (a session without entries has no branch to extract): no fork.
      rmSync(dir, { recursive: true, force: true });
      throw new Rejection("caller_error", error.message);
    }
    return { session_id: args.session_id };
  },

  "coordinator.close"(args) {
    requireHandle(args.handle);
    return {};
  },

  "coordinator.observe"(args) {
    return observe(requireHandle(args.handle).manager);
  },

  "coordinator.copy"(args) {
    const from = sessionDir(args.session_id);
    const to = sessionDir(args.to_session_id);
    if (!existsSync(from)) throw new Rejection("not_found", `no session ${args.session_id}`);
    if (existsSync(to)) throw new Rejection("caller_error", `session ${args.to_session_id} exists`);
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) cpSync(join(from, name), join(to, name));
    return {};
  },

  stop() {
    return {};
  },
};

function answer(response) {
  process.stdout.write(`${JSON.stringify(response)}\n`);
}

function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    answer({ seq: 0, status: "errored", message: `not JSON: ${error.message}`, context: { line } });
    return false;
  }
  const seq = Number.isInteger(request.seq) ? request.seq : 0;
  const handler = HANDLERS[request.cmd];
  if (!handler) {
    const reason = String(request.cmd).startsWith("realtime.")
      ? "pi has no realtime transcript"
      : "unknown command";
    answer({ seq, status: "skipped", reason });
    return true;
  }
  try {
    answer({ seq, status: "ok", result: handler(request.args ?? {}) });
  } catch (error) {
    if (error instanceof Rejection) {
      answer({ seq, status: "rejected", error: { type: error.type, message: error.message } });
    } else {
      answer({
        seq,
        status: "errored",
        message: `${error?.name ?? "Error"}: ${error?.message ?? String(error)}`,
        context: { cmd: request.cmd, stack: String(error?.stack ?? "").split("\n").slice(0, 6) },
      });
    }
  }
  return request.cmd !== "stop";
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  if (!handle(line)) break;
}
lines.close();
