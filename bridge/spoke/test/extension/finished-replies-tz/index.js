module.exports = require("../spoke-batches").strategy({ name: "finished-replies-tz", strategy: "finished-replies-tz", displayName: "After finishing current replies, within Texting Hours" });
