// Boots Pyodide under Node and drives async-kernel through its callable interface, as a
// JupyterLite kernel extension would: messages in as JSON through kernel.receive(), messages
// out through a callback. Fails (exit status 1) on the first mismatch.
//
// Usage: node kernel_checks.mjs PYODIDE_DIR SITE_PACKAGES_DIR
// PYODIDE_DIR holds the npm package (pyodide.mjs); SITE_PACKAGES_DIR the unpacked wheels.
// Nothing is downloaded: Pyodide loads from PYODIDE_DIR, Python packages from the mount.

import { resolve, join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomUUID } from "node:crypto";

const [pyodideDir, sitePackages] = process.argv.slice(2).map((path) => resolve(path));
const TIMEOUT_MS = 60_000;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
process.on("unhandledRejection", (error) => {
  console.log(`FAIL: ${String(error?.message ?? error).slice(-3000)}`);
  process.exit(1);
});
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir + "/" });
console.log(`booted Pyodide ${pyodide.version} (${elapsed()})`);
pyodide.mountNodeFS("/deps", sitePackages);

// --- the host side of the callable interface ---------------------------------------------
const received = [];
let wake = () => {};
function onMessage(text) {
  received.push(JSON.parse(text));
  wake();
}
const answers = [];
function onInputRequest(text) {
  const request = JSON.parse(text);
  return `${answers.shift()} (asked: ${request.content.prompt})`;
}
pyodide.globals.set("host_on_message", onMessage);
pyodide.globals.set("host_on_input_request", onInputRequest);
await pyodide.runPythonAsync(`
import sys
sys.path.insert(0, "/deps")
import json
from async_kernel import CallableKernel

def to_host(message):
    # Buffers are bytes: hex them so the whole message can travel as JSON.
    message = dict(message, buffers=[bytes(buffer).hex() for buffer in message["buffers"]])
    host_on_message(json.dumps(message))

kernel = CallableKernel(to_host, on_input_request=lambda request: host_on_input_request(json.dumps(request)))
await kernel.start()
`);
console.log(`kernel started (${elapsed()})`);
const receive = pyodide.globals.get("kernel").receive;

function send(channel, msgType, content, extra = {}) {
  const msgId = randomUUID();
  const message = {
    channel,
    header: { msg_id: msgId, msg_type: msgType, session: "node", username: "node", date: new Date().toISOString(), version: "5.5" },
    parent_header: {},
    metadata: {},
    content,
    ...extra,
  };
  receive(JSON.stringify(message));
  return msgId;
}

async function waitFor(predicate, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const found = received.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // Yield to the JS event loop: that is where Pyodide's WebLoop runs the kernel's tasks.
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, 50);
    });
  }
}

/** Send a request; wait for its reply and its iopub messages up to status idle. */
async function request(channel, msgType, content) {
  const msgId = send(channel, msgType, content);
  const ofIt = (m) => m.parent_header.msg_id === msgId;
  await waitFor((m) => ofIt(m) && m.msg_type === "status" && m.content.execution_state === "idle", `idle after ${msgType}`);
  // comm_open and comm_msg have no reply: only their iopub messages.
  const reply = msgType.startsWith("comm_") && msgType !== "comm_info_request"
    ? null
    : await waitFor((m) => ofIt(m) && m.channel === channel, `${msgType} reply`);
  return { reply, iopub: received.filter((m) => ofIt(m) && m.channel === "iopub") };
}

function check(condition, message, detail) {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(detail, null, 1).slice(0, 2000)}`);
}

const checks = {
  async kernel_info() {
    const { reply } = await request("shell", "kernel_info_request", {});
    check(reply.msg_type === "kernel_info_reply" && reply.content.status === "ok", "kernel_info_reply", reply);
    check(reply.content.implementation === "async_kernel", "implementation", reply.content);
    check(reply.content.language_info.name === "python", "language", reply.content);
    check(reply.content.language_info.version.startsWith("3."), "python version", reply.content);
  },
  async execute_with_await() {
    const code = "import asyncio, sys\nawait asyncio.sleep(0.01)\nprint('slept on', sys.platform)\n6 * 7";
    const { reply, iopub } = await request("shell", "execute_request", { code });
    check(reply.content.status === "ok", "execute_reply status", reply.content);
    const out = iopub.filter((m) => m.msg_type === "stream").map((m) => m.content.text).join("");
    check(out === "slept on emscripten\n", "stdout", out);
    const result = iopub.find((m) => m.msg_type === "execute_result");
    check(result && result.content.data["text/plain"] === "42", "execute_result", result);
  },
  async display() {
    const code = "from IPython.display import display, HTML\nhandle = display(HTML('<b>hi</b>'), display_id=True)\nhandle.update(HTML('<i>there</i>'))";
    const { reply, iopub } = await request("shell", "execute_request", { code });
    check(reply.content.status === "ok", "execute_reply status", reply.content);
    const shown = iopub.find((m) => m.msg_type === "display_data");
    check(shown && shown.content.data["text/html"] === "<b>hi</b>", "display_data", iopub);
    const updated = iopub.find((m) => m.msg_type === "update_display_data");
    check(updated && updated.content.data["text/html"] === "<i>there</i>", "update_display_data", iopub);
  },
  async error() {
    const { reply, iopub } = await request("shell", "execute_request", { code: "1 / 0" });
    check(reply.content.status === "error" && reply.content.ename === "ZeroDivisionError", "error reply", reply.content);
    check(iopub.some((m) => m.msg_type === "error"), "error on iopub", iopub);
  },
  async comm_round_trip() {
    // A target registered in a cell echoes what the frontend sends; the kernel opens one too.
    const setup = [
      "import comm",
      "def echo(channel, open_msg):",
      "    channel.on_msg(lambda msg: channel.send({'echo': msg['content']['data']}, buffers=msg['buffers']))",
      "comm.get_comm_manager().register_target('echo', echo)",
      "from_kernel = comm.create_comm(target_name='from-kernel', data={'hello': 1})",
    ].join("\n");
    const { reply, iopub } = await request("shell", "execute_request", { code: setup });
    check(reply.content.status === "ok", "setup cell", reply.content);
    const opened = iopub.find((m) => m.msg_type === "comm_open");
    check(opened && opened.content.target_name === "from-kernel" && opened.content.data.hello === 1, "kernel's comm_open", iopub);
    const commId = randomUUID();
    await request("shell", "comm_open", { comm_id: commId, target_name: "echo", data: {} });
    const msgId = send("shell", "comm_msg", { comm_id: commId, data: { x: [1, 2] } }, { buffers: [] });
    const echoed = await waitFor((m) => m.msg_type === "comm_msg" && m.parent_header.msg_id === msgId, "echoed comm_msg");
    check(echoed.content.comm_id === commId && JSON.stringify(echoed.content.data) === '{"echo":{"x":[1,2]}}', "echo", echoed);
    const info = (await request("shell", "comm_info_request", { target_name: "echo" })).reply;
    check(commId in info.content.comms, "comm_info lists the comm", info.content);
  },
  async complete_and_inspect() {
    const completed = (await request("shell", "complete_request", { code: "import asy", cursor_pos: 10 })).reply;
    check(completed.content.matches.includes("asyncio"), "complete", completed.content);
    const inspected = (await request("shell", "inspect_request", { code: "len", cursor_pos: 3, detail_level: 0 })).reply;
    check(inspected.content.found && "text/plain" in inspected.content.data, "inspect", inspected.content);
  },
  async history() {
    const { reply } = await request("shell", "history_request", { hist_access_type: "tail", n: 10, output: false, raw: true });
    check(reply.content.history.some((entry) => entry[2] === "1 / 0"), "history", reply.content);
  },
  async input() {
    answers.push("Ada");
    const code = "name = input('name? ')\nprint('hello', name)";
    const msgId = send("shell", "execute_request", { code, allow_stdin: true });
    const reply = await waitFor((m) => m.parent_header.msg_id === msgId && m.channel === "shell", "execute_reply");
    check(reply.content.status === "ok", "input cell", reply.content);
    const out = received.filter((m) => m.parent_header.msg_id === msgId && m.msg_type === "stream").map((m) => m.content.text).join("");
    check(out === "hello Ada (asked: name? )\n", "input value", out);
  },
  async interrupt_an_awaiting_cell() {
    const msgId = send("shell", "execute_request", { code: "await asyncio.sleep(60)" });
    await waitFor((m) => m.parent_header.msg_id === msgId && m.msg_type === "execute_input", "cell started");
    const interrupt = (await request("control", "interrupt_request", {})).reply;
    check(interrupt.content.status === "ok", "interrupt_reply", interrupt.content);
    const reply = await waitFor((m) => m.parent_header.msg_id === msgId && m.channel === "shell", "interrupted reply");
    check(reply.content.status === "error" && reply.content.ename === "KeyboardInterrupt", "interrupted cell", reply.content);
  },
  async bad_input_is_refused() {
    let refused = null;
    try {
      receive(JSON.stringify({ channel: "nowhere", header: {} }));
    } catch (error) {
      refused = `${error.type}: ${error.message}`;
    }
    check(refused && refused.includes("InvalidMessageError"), "bad channel refused", refused);
    const { reply } = await request("shell", "kernel_info_request", {});
    check(reply.content.status === "ok", "kernel still serves", reply.content);
  },
  async shutdown() {
    const { reply } = await request("control", "shutdown_request", { restart: false });
    check(reply.content.status === "ok", "shutdown_reply", reply.content);
    await pyodide.runPythonAsync("await kernel.wait_stopped()");
  },
};

let failed = false;
for (const [name, run] of Object.entries(checks)) {
  try {
    await run();
    console.log(`ok   ${name} (${elapsed()})`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}: ${error.message}`);
    break;
  }
}
console.log(failed ? "Pyodide kernel checks FAILED" : `all ${Object.keys(checks).length} Pyodide kernel checks passed (${elapsed()})`);
process.exit(failed ? 1 : 0);
