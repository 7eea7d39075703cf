// Runs ASL executions, one after another, with the real `aws-local-stepfunctions` interpreter
// on a virtual clock, answering every Task state through a JSON-lines bridge. One runner
// serves many executions so that Node and the library load once per Python process (~190 ms
// each time otherwise); nothing of one execution survives into the next (see `generation`).
//
// Protocol (one JSON object per line):
//   Python -> runner, to start an execution (only when none is running):
//                     {"definition", "input", "context", "startTimeMs", "alreadyValidated"}
//   runner -> Python: {"type":"task","id","state","resource","input","now"}
//                     {"type":"event","now","event"}
//                     {"type":"end","status","output"|"error"+"cause","now"}   (runner waits for the next start)
//                     {"type":"fatal","message"}                              (runner exits)
//   Python -> runner: {"type":"result","id","output","elapsedSeconds"?}
//                     {"type":"error","id","error","cause","elapsedSeconds"?}
// stdout carries only protocol lines; diagnostics go to stderr.

import { createInterface } from 'node:readline';

// ---------------------------------------------------------------------------
// Virtual clock. The library's Wait, Retry backoff, Task TimeoutSeconds and
// top-level TimeoutSeconds all use the global setTimeout, and Timestamp waits,
// event timestamps and $$.Execution.StartTime use Date; replacing both globals
// (before the library is imported) puts the whole execution on simulated time.
// ---------------------------------------------------------------------------

const RealDate = Date;
const realSetImmediate = setImmediate;

const clock = {
  now: 0,
  timers: new Map(),
  nextTimerId: 1,
  pendingTasks: 0,
  finished: true, // no execution running yet
  halted: false,
  idleChecks: 0,
  checkScheduled: false,
};

// Each execution has its own generation. Callbacks a finished execution left behind (an idle
// check, a task of an abandoned branch) see a stale generation and do nothing.
let generation = 0;

/** Fresh clock and task bookkeeping for the next execution. */
function resetForExecution(startTimeMs) {
  generation += 1;
  clock.now = startTimeMs;
  clock.timers = new Map();
  clock.nextTimerId = 1;
  clock.pendingTasks = 0;
  clock.finished = false;
  clock.halted = false;
  clock.idleChecks = 0;
  clock.checkScheduled = false;
  outstanding.clear();
  onDrained = null;
}

/** Timer handle that looks enough like Node's Timeout for library code. */
class VirtualTimeout {
  constructor(id) {
    this.id = id;
  }
  ref() {
    return this;
  }
  unref() {
    return this;
  }
  hasRef() {
    return false;
  }
  refresh() {
    return this;
  }
  [Symbol.toPrimitive]() {
    return this.id;
  }
}

function virtualSetTimeout(callback, delayMs = 0, ...args) {
  const id = clock.nextTimerId++;
  const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
  clock.timers.set(id, { at: clock.now + delay, id, callback, args });
  scheduleIdleCheck();
  return new VirtualTimeout(id);
}

function virtualClearTimeout(handle) {
  if (handle === undefined || handle === null) return;
  clock.timers.delete(typeof handle === 'object' ? handle.id : Number(handle));
}

class VirtualDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(clock.now);
    else super(...args);
  }
  static now() {
    return clock.now;
  }
}

globalThis.setTimeout = virtualSetTimeout;
globalThis.clearTimeout = virtualClearTimeout;
globalThis.Date = VirtualDate;

/** Ask for an idle check on a later loop turn, after microtasks and I/O callbacks ran. */
function scheduleIdleCheck() {
  clock.idleChecks = 0; // called whenever something progressed: only consecutive empty turns count as a stall
  if (clock.checkScheduled || clock.finished) return;
  clock.checkScheduled = true;
  const scheduledFor = generation;
  realSetImmediate(() => idleCheck(scheduledFor));
}

/** Earliest timer by (due time, creation order): the only one allowed to fire next. */
function earliestTimer() {
  let best = null;
  for (const timer of clock.timers.values()) {
    if (best === null || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
  }
  return best;
}

/**
 * Advance the clock only when nothing else can make progress: no Task reply is
 * awaited and a full loop turn passed without new work, so time never jumps
 * while Python is still computing a task result.
 */
function idleCheck(scheduledFor) {
  if (scheduledFor !== generation) return;
  clock.checkScheduled = false;
  if (clock.finished || clock.halted || clock.pendingTasks > 0) return;
  const timer = earliestTimer();
  if (timer === null) {
    // Nothing to wait for yet: give pending promise chains a few turns, then report a stall.
    clock.idleChecks += 1;
    if (clock.idleChecks > 50) fatal('interpreter stalled: no pending task, timer or result');
    else {
      clock.checkScheduled = true;
      realSetImmediate(() => idleCheck(scheduledFor));
    }
    return;
  }
  clock.timers.delete(timer.id);
  if (timer.at > clock.now) clock.now = timer.at;
  timer.callback(...timer.args);
  scheduleIdleCheck();
}

// ---------------------------------------------------------------------------
// Bridge to Python.
// ---------------------------------------------------------------------------

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Report the end of the execution; the runner stays up for the next one. */
function finish(message) {
  clock.finished = true;
  send(message);
}

/** Report a failure of the runner itself and exit: Python discards this runner. */
function fatal(message) {
  if (clock.finished) return;
  clock.finished = true;
  send({ type: 'fatal', message });
  process.stdout.write('', () => process.exit(1));
}

/** Error whose name and message are exactly what Python sent, for Retry/Catch matching. */
class TaskFailedError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

const outstanding = new Map();
let nextRequestId = 1;

function makeTaskHandler(stateName, resource) {
  const owner = generation;
  return (input) =>
    new Promise((resolve, reject) => {
      if (owner !== generation) return; // an abandoned branch of a finished execution: never settles
      const id = nextRequestId++;
      clock.pendingTasks += 1;
      clock.idleChecks = 0;
      outstanding.set(id, { resolve, reject });
      // Defer the request one loop turn so the StateEntered event reaches Python first.
      realSetImmediate(() => send({ type: 'task', id, state: stateName, resource, input, now: clock.now }));
    });
}

let onDrained = null;

function repliesDrained() {
  if (clock.pendingTasks === 0) return Promise.resolve();
  return new Promise((resolve) => {
    onDrained = resolve;
  });
}

/** Settle a task after its reported duration, which then competes with TimeoutSeconds timers. */
function onReply(reply) {
  const entry = outstanding.get(reply.id);
  if (entry === undefined) {
    fatal(`reply for unknown task id ${reply.id}`);
    return;
  }
  outstanding.delete(reply.id);
  clock.pendingTasks -= 1;
  if (clock.pendingTasks === 0 && onDrained !== null) onDrained();
  const settle =
    reply.type === 'result'
      ? () => entry.resolve(reply.output ?? null)
      : () => entry.reject(new TaskFailedError(String(reply.error), String(reply.cause ?? '')));
  const elapsedMs = Math.max(0, Number(reply.elapsedSeconds ?? 0) * 1000);
  if (elapsedMs > 0) virtualSetTimeout(settle, elapsedMs);
  else settle();
  scheduleIdleCheck();
}

// aws-local-stepfunctions defaults a Task's TimeoutSeconds to 60 (the ASL spec's value);
// AWS Step Functions uses 99999999, so a long Personalize call must not time out here.
const AWS_DEFAULT_TASK_TIMEOUT_SECONDS = 99999999;

/** Copy of the definition with AWS's default TimeoutSeconds on every Task that sets none. */
function withAwsTaskTimeouts(definition) {
  const states = {};
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    const copy = { ...state };
    if (copy.Type === 'Task' && copy.TimeoutSeconds === undefined && copy.TimeoutSecondsPath === undefined) {
      copy.TimeoutSeconds = AWS_DEFAULT_TASK_TIMEOUT_SECONDS;
    }
    if (copy.Branches) copy.Branches = copy.Branches.map(withAwsTaskTimeouts);
    if (copy.Iterator) copy.Iterator = withAwsTaskTimeouts(copy.Iterator);
    if (copy.ItemProcessor) copy.ItemProcessor = withAwsTaskTimeouts(copy.ItemProcessor);
    states[name] = copy;
  }
  return { ...definition, States: states };
}

/** Every Task state name, including those inside Parallel branches and Map processors. */
function collectTaskStates(definition, found = new Map()) {
  for (const [name, state] of Object.entries(definition?.States ?? {})) {
    if (state.Type === 'Task' && !found.has(name)) found.set(name, state.Resource);
    for (const branch of state.Branches ?? []) collectTaskStates(branch, found);
    if (state.Iterator) collectTaskStates(state.Iterator, found);
    if (state.ItemProcessor) collectTaskStates(state.ItemProcessor, found);
  }
  return found;
}

async function streamEvents(eventLogs) {
  for await (const event of eventLogs) {
    send({ type: 'event', now: typeof event.timestamp === 'number' ? event.timestamp : clock.now, event });
  }
}

/** Map the library's rejection to the Error/Cause an AWS execution would report. */
function failureOf(rejection, ExecutionTimeoutError) {
  if (rejection instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution has timed out.' };
  }
  const inner = rejection?.cause instanceof Error ? rejection.cause : rejection;
  return { status: 'FAILED', error: inner?.name ?? 'Error', cause: inner?.message ?? String(rejection) };
}

/**
 * `$$.State`, which the library leaves out. A state's paths and intrinsics are evaluated when
 * it is entered, before any time passes on the virtual clock, so the clock's reading at
 * evaluation is the state's EnteredTime.
 */
function stateContext() {
  return {
    get EnteredTime() {
      return new RealDate(clock.now).toISOString();
    },
  };
}

async function runExecution(init, library) {
  const { StateMachine, ExecutionTimeoutError } = library;
  resetForExecution(init.startTimeMs);
  if (!init.alreadyValidated) {
    try {
      // Validate the definition exactly as given (the library's own validator, ~150 ms)...
      new StateMachine(init.definition, { validationOptions: { checkArn: false } });
    } catch (error) {
      fatal(error.message);
      return;
    }
  }
  // ...then run the AWS-default-timeout copy without paying for validation twice.
  const machine = new StateMachine(withAwsTaskTimeouts(init.definition), { validationOptions: { noValidate: true } });
  const handlers = {};
  for (const [name, resource] of collectTaskStates(init.definition)) handlers[name] = makeTaskHandler(name, resource);
  const execution = machine.run(init.input, {
    overrides: { taskResourceLocalHandlers: handlers },
    context: { ...init.context, State: stateContext() },
  });
  const eventsDone = streamEvents(execution.eventLogs);
  let outcome;
  try {
    const output = await execution.result;
    outcome = { status: 'SUCCEEDED', output };
  } catch (rejection) {
    outcome = failureOf(rejection, ExecutionTimeoutError);
  }
  // Stop the clock: leftover timers (an abandoned task's reported duration) must not move it.
  clock.halted = true;
  const stopMs = clock.now;
  await eventsDone;
  // A task abandoned by a failed Parallel/Map branch is still being answered by Python:
  // wait for that reply so Python never writes to a runner that has already exited.
  await repliesDrained();
  finish({ type: 'end', ...outcome, now: stopMs });
}

async function main() {
  // Imported after the globals are replaced, once for every execution this runner serves.
  const library = await import('aws-local-stepfunctions');
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let message;
    try {
      message = JSON.parse(line);
    } catch (error) {
      fatal(`invalid JSON from Python: ${error.message}`);
      return;
    }
    if (message.type === undefined) {
      if (!clock.finished) {
        fatal('a start message arrived while an execution was running');
        return;
      }
      runExecution(message, library).catch((error) => fatal(`runner error: ${error?.stack ?? error}`));
    } else if (message.type === 'result' || message.type === 'error') {
      onReply(message);
    } else {
      fatal(`unknown message type from Python: ${message.type}`);
    }
  });
  lines.on('close', () => {
    if (!clock.finished) {
      process.stderr.write('asl_runner: stdin closed before the execution ended\n');
      process.exit(2);
    }
    process.exit(0);
  });
}

main().catch((error) => fatal(`runner error: ${error?.stack ?? error}`));
