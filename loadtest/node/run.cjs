#!/usr/bin/env node
// Runs one state machine N times, one execution after another, in this process on
// aws-local-stepfunctions, and prints {"executions","seconds","executions_per_second",
// "output"} (the shape of `quickstep bench`'s line, which has the whole outcome) as the
// last line.
//
// usage: node run.cjs DEFINITION INPUT_FILE N [WARMUP]
'use strict';

const fs = require('node:fs');
const { StateMachine } = require('aws-local-stepfunctions');

async function main() {
  const [definitionFile, inputFile, n = '10000', warmup = '1000'] = process.argv.slice(2);
  if (!definitionFile || !inputFile) {
    console.error('usage: node run.cjs DEFINITION INPUT_FILE N [WARMUP]');
    process.exit(2);
  }
  const definition = JSON.parse(fs.readFileSync(definitionFile, 'utf8'));
  const input = JSON.parse(fs.readFileSync(inputFile, 'utf8'));
  const executions = Number(n);
  const sm = new StateMachine(definition);

  // A first run to show the output matches quickstep's, then a warm-up for the JIT.
  const output = await sm.run(input).result;
  console.error(`aws-local-stepfunctions output: ${JSON.stringify(output)}`);
  for (let i = 0; i < Number(warmup); i++) {
    await sm.run(input).result;
  }

  let last;
  const started = process.hrtime.bigint();
  for (let i = 0; i < executions; i++) {
    // The same input object each time: aws-local-stepfunctions copies it itself at the start
    // of each execution (`cloneJSON(input)` in StateMachine's run loop, 3.0.0), as
    // `quickstep bench` lends its parsed input to the engine each time, which copies it
    // where a state writes into it. A structuredClone here made Node pay for the copy twice.
    last = await sm.run(input).result;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // The last execution's output, so a comparison can check what was measured.
  console.log(
    JSON.stringify({
      executions,
      seconds,
      executions_per_second: executions / seconds,
      output: last,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
