module.exports = require("../spoke-batches").strategy({ name: "vetted-takeconversations", strategy: "vetted-takeconversations", displayName: "Vetted Texters can take unassigned conversations" });
