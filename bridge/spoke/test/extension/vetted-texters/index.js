module.exports = require("../spoke-batches").strategy({ name: "vetted-texters", strategy: "vetted-texters", displayName: "Vetted Texters can request a new batch" });
