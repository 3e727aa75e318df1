module.exports = require("../spoke-batches").strategy({ name: "finished-replies", strategy: "finished-replies", displayName: "After finishing current replies" });
