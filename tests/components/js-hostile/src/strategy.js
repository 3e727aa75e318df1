// Misbehaves on demand for the sandbox tests: the campaign's title names what to do.

export function displayName() {
  return "Misbehaves on demand, in JavaScript (tests only)";
}

export function requestNewBatchCount(request) {
  const nowMillis = Number(request.now.seconds) * 1000 + Math.floor(request.now.nanoseconds / 1e6);
  switch (request.campaign.title) {
    case "throw-error":
      throw new Error("the campaign is not ready");
    case "throw-type-error":
      return request.campaign.noSuchField.length;
    case "loop":
      for (;;) {}
    case "memory": {
      const kept = [];
      for (;;) kept.push(new ArrayBuffer(1 << 22));
    }
    case "date": {
      // Every way to read the clock answers the request's `now`, a subclass included, and a
      // given time stays that time.
      class Later extends Date {}
      const viaConstructor = new (new Date().constructor)();
      return Date.now() === nowMillis &&
        new Date().getTime() === nowMillis &&
        Date() === new Date(nowMillis).toString() &&
        viaConstructor.getTime() === nowMillis &&
        new Later() instanceof Later &&
        new Later().getTime() === nowMillis &&
        new Date(0).getTime() === 0 &&
        new Date(2020, 0, 1) instanceof Date
        ? 1
        : 0;
    }
    case "year":
      return new Date().getUTCFullYear();
    case "console":
      console.log("hello", { texter: request.texter.id });
      console.warn("careful");
      console.error(new Error("shown"));
      return 0;
    case "random":
      return Math.floor(Math.random() * 1e6);
    default:
      return 0;
  }
}

export function selectContacts(_request, _plan) {
  return { batchQuery: undefined, hasCurrentQuery: undefined };
}
