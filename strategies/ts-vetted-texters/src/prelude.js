// The JavaScript template's prelude (Date, console, Error, Math.random), as every JavaScript
// and TypeScript strategy has it; see strategies/js-vetted-texters/src/prelude.js.
export { run } from "../../js-vetted-texters/src/prelude.js";
