// Security keys (WebAuthn) for staff: registration on My security, sign-in on
// the second step. Options come from the server as JSON (py_webauthn), binary
// fields base64url-encoded; answers go back the same way.
(function () {
  "use strict";

  function fromB64(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body ? JSON.stringify(body) : "{}",
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) {
          if (data.redirect) { window.location.assign(data.redirect); }
          throw new Error(data.error || "failed");
        }
        return data;
      });
    });
  }

  function showError(err) {
    var box = document.getElementById("webauthn-error");
    if (box) { box.hidden = false; box.textContent = err.message || String(err); }
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: fromB64(c.id), transports: c.transports };
    });
  }

  function register(button) {
    post(button.dataset.options).then(function (opts) {
      opts.challenge = fromB64(opts.challenge);
      opts.user.id = fromB64(opts.user.id);
      opts.excludeCredentials = descriptors(opts.excludeCredentials);
      return navigator.credentials.create({ publicKey: opts });
    }).then(function (cred) {
      var name = window.prompt(button.dataset.namePrompt || "Name for this key", "Security key");
      return post(button.dataset.verify, {
        id: cred.id,
        rawId: toB64(cred.rawId),
        type: cred.type,
        name: name || "Security key",
        response: {
          clientDataJSON: toB64(cred.response.clientDataJSON),
          attestationObject: toB64(cred.response.attestationObject),
          transports: cred.response.getTransports ? cred.response.getTransports() : [],
        },
      });
    }).then(function (data) { window.location.assign(data.redirect); }).catch(showError);
  }

  function login(button) {
    post(button.dataset.options).then(function (opts) {
      opts.challenge = fromB64(opts.challenge);
      opts.allowCredentials = descriptors(opts.allowCredentials);
      return navigator.credentials.get({ publicKey: opts });
    }).then(function (cred) {
      return post(button.dataset.verify, {
        id: cred.id,
        rawId: toB64(cred.rawId),
        type: cred.type,
        response: {
          clientDataJSON: toB64(cred.response.clientDataJSON),
          authenticatorData: toB64(cred.response.authenticatorData),
          signature: toB64(cred.response.signature),
          userHandle: cred.response.userHandle ? toB64(cred.response.userHandle) : null,
        },
      });
    }).then(function (data) { window.location.assign(data.redirect); }).catch(showError);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var reg = document.getElementById("webauthn-register");
    if (reg) {
      if (!window.PublicKeyCredential) { reg.hidden = true; }
      reg.addEventListener("click", function () { register(reg); });
    }
    var log = document.getElementById("webauthn-login");
    if (log) { log.addEventListener("click", function () { login(log); }); }
  });
})();
