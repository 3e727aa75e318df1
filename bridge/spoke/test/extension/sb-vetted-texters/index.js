module.exports = require("../spoke-batches").strategy({ name: "sb-vetted-texters", strategy: "vetted-texters", displayName: "Vetted Texters can request a new batch" });
