// pi's side of `sessionspec bench peers` (statemachine/sessionspec/bench/peers.py).
//
// Two ways to run it:
//   node pi_bench.mjs serve        one JSON request a line on stdin, one JSON reply a line on
//                                  stdout; every figure is timed here, inside Node, so the
//                                  pipe and the process start never count.
//   node pi_bench.mjs rss PATH     open PATH with SessionManager, build its context, print the
//                                  process's peak RSS (KiB) as JSON, exit: a fresh process
//                                  for each memory figure.
// Requests (each answers {"ok": true, ...} or {"ok": false, "error": "..."}):
//   {"op": "write", "dir": D, "messages": FILE}   a new session in D holding the messages of
//                                                 FILE (JSON lines, pi's message shapes)
//   {"op": "resume", "path": P}                   SessionManager.open + buildSessionContext
//   {"op": "parse", "path": P}                    JSON.parse of every line (the baseline)
//   {"op": "append", "dir": D, "messages": [...], "group": G}
//                                                 a new session; median time of G appends
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";

// pi's session module alone, by file (the package's `exports` name only its index): the
// index loads the whole agent and its terminal UI (5 s and 135 MiB on a loaded machine, 0.6 s
// and 50 MiB for this module), which an agent has loaded anyway but which would drown the
// memory figure. This script runs from the install folder, beside node_modules.
const { SessionManager } = await import(
  new URL("./node_modules/@mariozechner/pi-coding-agent/dist/core/session-manager.js", import.meta.url).href
);

const CWD = "/bench";

function readMessages(file) {
  return readFileSync(file, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function resume(path) {
  const manager = SessionManager.open(path);
  return manager.buildSessionContext();
}

const handlers = {
  write({ dir, messages }) {
    const manager = SessionManager.create(CWD, dir);
    const list = readMessages(messages);
    for (const message of list) manager.appendMessage(message);
    return { path: manager.getSessionFile(), messages: list.length };
  },
  resume({ path }) {
    const start = performance.now();
    const context = resume(path);
    const seconds = (performance.now() - start) / 1000;
    return { seconds, messages: context.messages.length };
  },
  parse({ path }) {
    const start = performance.now();
    const lines = readFileSync(path, "utf8").split("\n");
    let count = 0;
    for (const line of lines) {
      if (line.length === 0) continue;
      JSON.parse(line);
      count += 1;
    }
    return { seconds: (performance.now() - start) / 1000, lines: count };
  },
  append({ dir, messages, group }) {
    const manager = SessionManager.create(CWD, dir);
    // pi writes nothing until the first assistant message, then everything at once: one
    // untimed warm-up turn gets the file written before the timed appends begin.
    for (const message of messages.slice(0, 3)) manager.appendMessage(message);
    const times = [];
    for (let index = 3; index + group <= messages.length; index += group) {
      const start = performance.now();
      for (let offset = 0; offset < group; offset += 1) manager.appendMessage(messages[index + offset]);
      times.push((performance.now() - start) / 1000);
    }
    return { seconds: median(times), samples: times.length };
  },
};

async function serve() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim().length === 0) continue;
    let reply;
    try {
      const request = JSON.parse(line);
      const handler = handlers[request.op];
      if (handler === undefined) throw new Error(`unknown op ${JSON.stringify(request.op)}`);
      reply = { ok: true, ...handler(request) };
    } catch (error) {
      reply = { ok: false, error: String(error && error.stack ? error.stack : error) };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}

// The memory map's high-water mark (VmHWM), not resourceUsage().maxRSS: Linux carries the
// latter across fork and exec, so it would report the size of the Python process that
// started this one whenever that is larger.
function peakRssKib() {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]);
  } catch {
    // not Linux: fall back below
  }
  return process.resourceUsage().maxRSS;
}

const [command, argument] = process.argv.slice(2);
if (command === "serve") {
  await serve();
} else if (command === "rss") {
  const context = resume(argument);
  process.stdout.write(`${JSON.stringify({ max_rss_kib: peakRssKib(), messages: context.messages.length })}\n`);
} else {
  process.stderr.write("usage: node pi_bench.mjs serve | rss PATH\n");
  process.exit(2);
}
