// The template's prelude, as every JavaScript strategy has it.
export { run } from "../../../../strategies/js-vetted-texters/src/prelude.js";
