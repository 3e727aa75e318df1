module.exports = require("../spoke-batches").strategy({ name: "fewer-than-n-replies", strategy: "fewer-than-n-replies", displayName: "Fewer than N replies waiting" });
