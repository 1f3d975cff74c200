// kcledger console: enhancements only. Every page works without this file.
"use strict";
