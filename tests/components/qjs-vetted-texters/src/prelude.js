// The JavaScript template's prelude (Date, console, errors, Math.random), shared.
export * from "../../../../strategies/js-vetted-texters/src/prelude.js";
