/* The desk's scan queue (CIR-2): a scanner types a barcode and Enter, and may
 * start the next scan before the server has answered the last one. Every scan
 * is taken out of the field at once (so two never run together), queued, and
 * sent in order, one at a time; each gets a line in the answer list naming the
 * barcode it read. Nothing is kept in the browser's storage. Without this file
 * the forms post as plain HTML forms.
 */
(function () {
  "use strict";

  var queue = [];
  var busy = false;

  function answerList(form) {
    return document.getElementById(form.getAttribute("data-answers") || "answers");
  }

  function pendingLine(list, barcode) {
    var li = document.createElement("li");
    li.className = "answer pending";
    var code = document.createElement("span");
    code.className = "barcode";
    code.textContent = barcode;
    var text = document.createElement("span");
    text.className = "answer-text";
    text.textContent = " " + (list.getAttribute("data-pending") || "…");
    li.appendChild(code);
    li.appendChild(text);
    list.appendChild(li);
    return li;
  }

  function failed(job) {
    job.line.className = "answer refused failed";
    job.line.querySelector(".answer-text").textContent =
      " " + (job.list.getAttribute("data-failed") || "Not answered.");
  }

  function send(job) {
    return fetch(job.url, {
      method: "POST",
      body: job.body,
      credentials: "same-origin",
      headers: { "X-Desk-Queue": "1" },
    })
      .then(function (response) {
        if (response.headers.get("X-Desk-Answer") !== "1") {
          failed(job);
          return;
        }
        return response.text().then(function (html) {
          var holder = document.createElement("ol");
          holder.innerHTML = html.trim();
          var li = holder.firstElementChild;
          if (li) {
            job.line.replaceWith(li);
          } else {
            failed(job);
          }
        });
      })
      .catch(function () {
        failed(job);
      });
  }

  var refreshes = 0;

  function refreshParts() {
    // the loans, fees and Done button change with each loan: take them from a fresh copy;
    // only the newest refresh is used, and none while scans are still being answered
    var parts = document.querySelectorAll("[data-desk-refresh]");
    if (!parts.length) return;
    var mine = ++refreshes;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) {
        return r.ok ? r.text() : "";
      })
      .then(function (html) {
        if (!html || mine !== refreshes || busy || queue.length) return;
        parts = document.querySelectorAll("[data-desk-refresh]");
        var doc = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (part) {
          var fresh = doc.getElementById(part.id);
          if (!fresh || part.contains(document.activeElement)) return;
          part.replaceWith(fresh);
          if (window.htmx) window.htmx.process(fresh);
        });
      })
      .catch(function () {});
  }

  function pump() {
    if (busy) return;
    var job = queue.shift();
    if (!job) {
      refreshParts();
      return;
    }
    busy = true;
    send(job).then(function () {
      busy = false;
      pump();
    });
  }

  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-scan-queue")) return;
      var list = answerList(form);
      if (!list || !window.fetch) return;
      event.preventDefault();
      event.stopPropagation();
      var field = form.querySelector("[data-scan-field]");
      var body = new FormData(form);
      var barcode = field ? field.value.trim() : String(body.get("item") || "");
      if (field) {
        body.set(field.name, barcode);
        field.value = "";
        field.focus();
      }
      if (!barcode) return;
      if (form.closest(".answer")) {
        // an override form inside an answer: it is used once
        form.querySelectorAll("button, input").forEach(function (el) {
          el.disabled = true;
        });
      }
      queue.push({
        url: form.action,
        body: body,
        list: list,
        line: pendingLine(list, barcode),
      });
      pump();
    },
    true
  );
})();
