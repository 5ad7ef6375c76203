// The admin's API tester: sends the chosen request from the browser to the real API.
"use strict";
(function () {
  const endpoints = JSON.parse(document.getElementById("api-tester-endpoints").textContent);
  const form = document.getElementById("tester-form");
  const select = document.getElementById("tester-endpoint");
  const path = document.getElementById("tester-path");
  const body = document.getElementById("tester-body");
  let lastMessageId = "";

  function current() {
    return endpoints.find((e) => e.name === select.value);
  }

  function fill() {
    const endpoint = current();
    path.value = endpoint.path.replace("{message_id}", lastMessageId || "{message_id}");
    body.value = endpoint.body ? JSON.stringify(endpoint.body, null, 2) : "";
    body.disabled = endpoint.method === "GET";
  }

  async function send(event) {
    event.preventDefault();
    const endpoint = current();
    const headers = { Accept: "application/json" };
    const key = document.getElementById("tester-key").value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    const init = { method: endpoint.method, headers: headers, credentials: "omit", cache: "no-store" };
    if (endpoint.method !== "GET") {
      headers["Content-Type"] = "application/json";
      init.body = body.value;
    }
    const status = document.getElementById("tester-status");
    const started = performance.now();
    let response;
    try {
      response = await fetch(path.value, init);
    } catch (error) {
      status.textContent = "network error: " + error;
      status.className = "mysms-status-error";
      document.getElementById("tester-result").hidden = false;
      return;
    }
    const text = await response.text();
    document.getElementById("tester-time").textContent = Math.round(performance.now() - started) + " ms";
    status.textContent = response.status + " " + response.statusText;
    status.className = response.ok ? "mysms-status-ok" : "mysms-status-error";
    document.getElementById("tester-headers").textContent = Array.from(response.headers.entries())
      .map(([name, value]) => name + ": " + value)
      .join("\n");
    let shown = text;
    try {
      const json = JSON.parse(text);
      shown = JSON.stringify(json, null, 2);
      if (json.message_id) lastMessageId = json.message_id;
    } catch (error) {
      // Not JSON: shown as it came.
    }
    document.getElementById("tester-response").textContent = shown;
    document.getElementById("tester-result").hidden = false;
  }

  select.addEventListener("change", fill);
  form.addEventListener("submit", send);
  fill();
})();
