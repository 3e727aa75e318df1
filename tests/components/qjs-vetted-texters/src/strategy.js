// The JavaScript template's strategy, unchanged: this package only builds it with the other
// engine (package.json's "spokeBatches": { "engine": "quickjs" }).
export * from "../../../../strategies/js-vetted-texters/src/strategy.js";
