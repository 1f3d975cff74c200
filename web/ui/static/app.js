// kcledger console: enhancements only. Every page works without this file.
"use strict";

// ---- record.go: the live reading of a typed amount ----
// An amount input names the element that shows what the ledger reads in
// it (data-reading); as the visitor types, the console's /reading answers
// with the same reading the form is posted with. No rule of reading is
// written here.
(function () {
  var inputs = document.querySelectorAll("input[data-reading]");
  Array.prototype.forEach.call(inputs, function (input) {
    var out = document.getElementById(input.getAttribute("data-reading"));
    if (!out) {
      return;
    }
    var timer = 0;
    var asked = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var n = ++asked;
        fetch("/reading?amount=" + encodeURIComponent(input.value), {
          credentials: "same-origin",
          headers: { "Accept": "application/json" }
        }).then(function (r) {
          if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
            return null;
          }
          return r.json();
        }).then(function (j) {
          if (j && n === asked) {
            out.textContent = j.text;
            var typed = input.value.trim() !== "";
            out.classList.toggle("reading-ok", j.ok);
            out.classList.toggle("reading-bad", !j.ok && typed);
          }
        }).catch(function () {});
      }, 250);
    });
  });
})();
