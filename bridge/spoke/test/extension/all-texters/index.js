module.exports = require("../spoke-batches").strategy({ name: "all-texters", strategy: "all-texters", displayName: "Everyone can request a new batch" });
