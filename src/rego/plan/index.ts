// Plan IR (the planner's output, the Wasm back end's input) and its printer.
export * from './ir.js';
export { type PrintOptions, printPolicy } from './print.js';
