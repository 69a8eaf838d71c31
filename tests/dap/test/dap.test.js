// `llmspell dap` driven by @vscode/debugadapter-testsupport's DebugClient, the client
// VS Code's own adapters are tested with: once over stdio (`llmspell dap`), once over TCP
// (`llmspell dap --port 0`). Needs LLMSPELL_BIN (scripts/test.sh sets it).
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const fs = require('node:fs');
const cp = require('node:child_process');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const BIN = process.env.LLMSPELL_BIN;
if (!BIN || !fs.existsSync(BIN)) {
  throw new Error(`LLMSPELL_BIN must name the llmspell binary (got ${JSON.stringify(BIN)})`);
}
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const BASIC = path.join(FIXTURES, 'basic.lua');
const ERROR = path.join(FIXTURES, 'error.lua');
const ARGS = path.join(FIXTURES, 'args.lua');
/** Event and response waits, generous for a debug build on a busy machine. */
const WAIT_MS = 20000;

/** Rejects after `ms` (the DebugClient has no timeouts in TCP mode). */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts `llmspell dap --port 0`; resolves with the process and its port. */
function startServer() {
  return within(
    new Promise((resolve, reject) => {
      const proc = cp.spawn(BIN, ['dap', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      proc.on('error', reject);
      proc.on('exit', (code) => reject(new Error(`llmspell dap exited early (${code})`)));
      proc.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve({ proc, port: Number(m[1]) });
      });
    }),
    WAIT_MS,
    'llmspell dap --port 0'
  );
}

/** The frames of thread 1. */
async function frames(dc) {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  return st.body.stackFrames;
}

/** name -> variable, for a variablesReference. */
async function vars(dc, reference) {
  const r = await dc.variablesRequest({ variablesReference: reference });
  return Object.fromEntries(r.body.variables.map((v) => [v.name, v]));
}

/** Launches `program`, configures breakpoints, and waits for the first stop. */
async function launchAndStop(dc, launchArgs, breakpoints, reason, line) {
  await within(
    Promise.all([
      dc.waitForEvent('initialized', WAIT_MS).then(async () => {
        if (breakpoints) {
          const r = await dc.setBreakpointsRequest({
            source: { path: launchArgs.program },
            breakpoints,
          });
          assert.ok(r.body.breakpoints.every((b) => b.verified));
        }
        return dc.configurationDoneRequest();
      }),
      dc.launch(launchArgs),
      dc.assertStoppedLocation(reason, { path: launchArgs.program, line }),
    ]),
    WAIT_MS,
    `stop (${reason}) at line ${line}`
  );
}

/** Sends a step request and waits for the stop it causes. */
function step(dc, request, line) {
  return within(
    Promise.all([
      dc[`${request}Request`]({ threadId: 1 }),
      dc.assertStoppedLocation('step', { line }),
    ]),
    WAIT_MS,
    `${request} to line ${line}`
  );
}

for (const transport of ['stdio', 'tcp']) {
  describe(`llmspell dap over ${transport}`, () => {
    let server = null;
    let dc = null;

    before(async () => {
      if (transport === 'tcp') server = await startServer();
    });

    after(() => {
      if (server) server.proc.kill();
    });

    beforeEach(async () => {
      dc = new DebugClient(BIN, 'dap', 'lua');
      dc.defaultTimeout = WAIT_MS;
      await dc.start(server ? server.port : undefined);
    });

    afterEach(async () => {
      await within(dc.stop(), WAIT_MS, 'disconnect').catch(() => {});
    });

    it('answers initialize with its capabilities', async () => {
      const r = await dc.initializeRequest();
      assert.strictEqual(r.body.supportsConfigurationDoneRequest, true);
      assert.strictEqual(r.body.supportsConditionalBreakpoints, true);
      assert.strictEqual(r.body.supportsHitConditionalBreakpoints, true);
      assert.strictEqual(r.body.supportsLogPoints, true);
      assert.strictEqual(r.body.exceptionBreakpointFilters[0].filter, 'uncaught');
    });

    it('hits a breakpoint', async () => {
      await within(
        dc.hitBreakpoint({ program: BASIC }, { path: BASIC, line: 3 }),
        WAIT_MS,
        'hitBreakpoint'
      );
      const top = (await frames(dc))[0];
      assert.strictEqual(top.name, 'add');
    });

    it('steps in, over and out', async () => {
      await launchAndStop(dc, { program: BASIC }, [{ line: 7 }], 'breakpoint', 7);
      await step(dc, 'stepIn', 3);
      assert.strictEqual((await frames(dc))[0].name, 'add');
      await step(dc, 'next', 4);
      await step(dc, 'stepOut', 8);
      assert.strictEqual((await frames(dc))[0].name, 'main chunk');
      await step(dc, 'next', 9);
    });

    it('stops on entry', async () => {
      await launchAndStop(dc, { program: BASIC, stopOnEntry: true }, null, 'entry', 1);
      const done = dc.waitForEvent('terminated', WAIT_MS);
      await dc.continueRequest({ threadId: 1 });
      await done;
    });

    it('shows variables, nested tables and evaluates in a frame', async () => {
      await launchAndStop(dc, { program: BASIC }, [{ line: 9 }], 'breakpoint', 9);
      const top = (await frames(dc))[0];
      const scopes = (await dc.scopesRequest({ frameId: top.id })).body.scopes;
      assert.deepStrictEqual(scopes.map((s) => s.name), ['Locals', 'Upvalues', 'Globals']);
      const locals = await vars(dc, scopes[0].variablesReference);
      assert.strictEqual(locals.greeting.value, '"hello from lua"');
      assert.strictEqual(locals.first.value, '3');
      assert.strictEqual(locals.second.value, '13');
      assert.strictEqual(locals.data.type, 'table');
      const data = await vars(dc, locals.data.variablesReference);
      assert.strictEqual(data.name.value, '"lua"');
      const list = await vars(dc, data.list.variablesReference);
      assert.deepStrictEqual(Object.keys(list), ['[1]', '[2]', '[3]']);
      const ev = await dc.evaluateRequest({ expression: 'first * second', frameId: top.id, context: 'repl' });
      assert.strictEqual(ev.body.result, '39');
      await dc.setVariableRequest({ variablesReference: scopes[0].variablesReference, name: 'first', value: '100' });
      const again = await dc.evaluateRequest({ expression: 'first', frameId: top.id, context: 'watch' });
      assert.strictEqual(again.body.result, '100');
      await assert.rejects(
        dc.evaluateRequest({ expression: 'nil + 1', frameId: top.id, context: 'repl' }),
        /arithmetic/
      );
      const printed = dc.assertOutput('stdout', 'hello from lua\t128\n', WAIT_MS);
      await dc.continueRequest({ threadId: 1 });
      await within(printed, WAIT_MS, 'output after setVariable');
    });

    it('sends program output and the exit code', async () => {
      const stdout = dc.assertOutput('stdout', 'args: x y\n', WAIT_MS);
      const stderr = dc.assertOutput('stderr', 'to stderr\n', WAIT_MS);
      const exited = dc.waitForEvent('exited', WAIT_MS);
      const terminated = dc.waitForEvent('terminated', WAIT_MS);
      await within(
        Promise.all([dc.configurationSequence(), dc.launch({ program: ARGS, args: ['x', 'y'] })]),
        WAIT_MS,
        'launch'
      );
      await within(Promise.all([stdout, stderr]), WAIT_MS, 'output');
      assert.strictEqual((await exited).body.exitCode, 3);
      await terminated;
    });

    it('honours conditions, hit counts and log points', async () => {
      await launchAndStop(
        dc,
        { program: BASIC },
        [{ line: 11, condition: 'i == 3' }],
        'breakpoint',
        11
      );
      const top = (await frames(dc))[0];
      const ev = await dc.evaluateRequest({ expression: 'total', frameId: top.id });
      assert.strictEqual(ev.body.result, '3');
      // Replace it with a hit count and a log point on the same line.
      await dc.setBreakpointsRequest({
        source: { path: BASIC },
        breakpoints: [{ line: 11, hitCondition: '>= 2' }, { line: 11, logMessage: 'i is {i}' }],
      });
      const logged = dc.assertOutput('console', 'i is 4\n', WAIT_MS);
      await within(
        Promise.all([dc.continueRequest({ threadId: 1 }), dc.assertStoppedLocation('breakpoint', { line: 11 })]),
        WAIT_MS,
        'hit count'
      );
      await logged;
      const now = (await frames(dc))[0];
      const i = await dc.evaluateRequest({ expression: 'i', frameId: now.id });
      assert.strictEqual(i.body.result, '5');
    });

    it('stops on an uncaught error', async () => {
      await within(
        Promise.all([
          dc.waitForEvent('initialized', WAIT_MS).then(async () => {
            await dc.setExceptionBreakpointsRequest({ filters: ['uncaught'] });
            return dc.configurationDoneRequest();
          }),
          dc.launch({ program: ERROR }),
          dc.assertStoppedLocation('exception', { path: ERROR, line: 3 }),
        ]),
        WAIT_MS,
        'exception stop'
      );
      const info = await dc.exceptionInfoRequest({ threadId: 1 });
      assert.match(info.body.description, /bad value 7/);
      const top = (await frames(dc))[0];
      const reason = await dc.evaluateRequest({ expression: 'reason', frameId: top.id });
      assert.strictEqual(reason.body.result, '"bad value 7"');
      const exited = dc.waitForEvent('exited', WAIT_MS);
      await dc.continueRequest({ threadId: 1 });
      assert.strictEqual((await exited).body.exitCode, 1);
    });

    it('refuses unknown commands and bad arguments with a message', async () => {
      await dc.initializeRequest();
      await assert.rejects(dc.customRequest('frobnicate', {}), /unknown command "frobnicate"/);
      await assert.rejects(dc.scopesRequest({}), /frameId/);
      await assert.rejects(dc.launchRequest({}), /program/);
      const threads = await dc.threadsRequest();
      assert.strictEqual(threads.body.threads[0].id, 1);
    });
  });
}
