// Resumable model-file uploads for the upload forms. Without this script the form still
// works: the files go with the form in one request. With it, each model file is sent in
// chunks with a progress bar first; if the connection drops or the page reloads, choosing
// the same file again continues from the last stored chunk.
(function () {
  "use strict";
  const form = document.querySelector("form[data-resumable-upload]");
  if (!form) return;
  const input = form.querySelector('input[type=file][name="model_files"]');
  const idsField = form.querySelector('input[name="upload_ids"]');
  const list = document.getElementById("upload-progress");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const MAX_CHUNK = 16 * 1024 * 1024;
  // With S3 storage the parts go straight to the bucket through presigned URLs.
  const DIRECT = form.dataset.directUpload === "true";
  let busy = false;

  const human = (n) => {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  };
  const keyFor = (file) => `modelhub-upload:${file.name}:${file.size}:${file.lastModified}`;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Messages in the page's language, from the list's data attributes (the template
  // translates them); {name} marks where a value goes.
  const ENGLISH = {
    progress: "{sent} of {size}",
    resuming: "Resuming at {offset}…",
    retrying: "Connection lost; retrying ({count})…",
    checking: "Checking the file…",
    uploaded: "Uploaded · {format} · SHA256 {hash}…",
    refused: "The server refused the upload ({status}).",
    fileRefused: "The file was refused ({status}).",
    nothingSaved: "Nothing was saved; choose the file again to resume.",
  };
  const message = (name, values = {}) =>
    (list.dataset[name] || ENGLISH[name]).replace(/\{(\w+)\}/g, (_, key) => values[key]);

  async function api(method, url, body, headers = {}) {
    const response = await fetch(url, {
      method, body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json", ...headers },
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* empty answer */ }
    return { status: response.status, data };
  }

  function putChunk(url, blob, onProgress, toBucket = false) {
    // XMLHttpRequest, because fetch reports no upload progress.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      if (!toBucket) {  // the bucket must not see our CSRF token
        xhr.setRequestHeader("X-CSRFToken", csrf);
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
      }
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        resolve({ status: xhr.status, data });
      };
      xhr.onerror = () => reject(new Error("network"));
      xhr.send(blob);
    });
  }

  function row(file) {
    const li = document.createElement("li");
    li.innerHTML = '<span class="name"></span> <progress max="100" value="0"></progress> <span class="state"></span>';
    li.querySelector(".name").textContent = file.name;
    list.appendChild(li);
    return {
      progress: (sent) => {
        li.querySelector("progress").value = file.size ? (100 * sent) / file.size : 100;
        li.querySelector(".state").textContent = message("progress", { sent: human(sent), size: human(file.size) });
      },
      say: (text, bad) => {
        li.querySelector(".state").textContent = text;
        li.classList.toggle("error", !!bad);
      },
    };
  }

  async function startOrResume(file) {
    const saved = localStorage.getItem(keyFor(file));
    if (saved) {
      const { status, data } = await api("GET", `/api/uploads/${saved}`);
      if (status === 200 && (data.state === "open" || data.state === "complete")) return data;
    }
    const { status, data } = await api("POST", "/api/uploads",
      JSON.stringify({ filename: file.name, size: file.size, direct: DIRECT }),
      { "Content-Type": "application/json" });
    if (status !== 201) {
      const detail = data.errors ? Object.values(data.errors).flat().join(" ") : data.error;
      throw new Error(detail || message("refused", { status }));
    }
    localStorage.setItem(keyFor(file), data.id);
    return data;
  }

  async function sendParts(file, upload, ui) {
    const size = upload.chunkSize;
    let offset = upload.offset;  // parts 1..n stored without a gap, as the bucket reports
    let failures = 0;
    while (offset < file.size) {
      const number = Math.floor(offset / size) + 1;
      const { status, data } = await api("GET", `/api/uploads/${upload.id}/parts?numbers=${number}`);
      if (status !== 200) throw Object.assign(new Error(data.error || "No part URL."), { fatal: true });
      const end = Math.min(offset + size, file.size);
      try {
        const put = await putChunk(data.parts[0].url, file.slice(offset, end),
          (loaded) => ui.progress(offset + loaded), true);
        if (put.status !== 200) throw new Error("retry");
        offset = end; failures = 0; ui.progress(offset);
      } catch (err) {
        if (++failures > 8) throw err;
        ui.say(message("retrying", { count: failures }));
        await sleep(Math.min(30000, 1000 * 2 ** failures));
      }
    }
  }

  async function send(file, ui) {
    let upload = await startOrResume(file);
    if (upload.direct && upload.state === "open") await sendParts(file, upload, ui);
    let offset = upload.direct ? file.size : upload.offset;
    const chunk = Math.min(upload.chunkSize || MAX_CHUNK, MAX_CHUNK);
    if (offset) {
      ui.progress(offset);  // the bar starts where the stored part ends
      ui.say(message("resuming", { offset: human(offset) }));
    }
    let failures = 0;
    while (upload.state === "open" && offset < file.size) {
      const end = Math.min(offset + chunk, file.size);
      try {
        const { status, data } = await putChunk(
          `/api/uploads/${upload.id}?offset=${offset}`, file.slice(offset, end),
          (loaded) => ui.progress(offset + loaded));
        if (status === 200) { offset = data.offset; failures = 0; ui.progress(offset); continue; }
        if (status === 409 && typeof data.offset === "number") { offset = data.offset; continue; }
        if (status >= 500 || status === 409) throw new Error("retry");
        throw Object.assign(new Error(data.error || message("refused", { status })), { fatal: true });
      } catch (err) {
        if (err.fatal || ++failures > 8) throw err;
        ui.say(message("retrying", { count: failures }));
        await sleep(Math.min(30000, 1000 * 2 ** failures));
        const { status, data } = await api("GET", `/api/uploads/${upload.id}`);
        if (status === 200) offset = data.offset;
      }
    }
    ui.say(message("checking"));
    const { status, data } = await api("POST", `/api/uploads/${upload.id}/complete`);
    if (status !== 200) {
      localStorage.removeItem(keyFor(file));
      throw new Error(data.error || message("fileRefused", { status }));
    }
    ui.say(message("uploaded", { format: data.format, hash: data.hashes.SHA256.slice(0, 10).toUpperCase() }));
    return data.id;
  }

  // The form itself, sent with fetch: on success the page stays and follows the new
  // version's checks in the panel below the form; on a refusal the form is posted the
  // ordinary way, so the page shows each error beside its field.
  async function createAndFollowChecks() {
    const panel = document.getElementById("upload-checks");
    if (!panel) { form.submit(); return; }
    const response = await fetch(form.action || window.location.href, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    });
    if (response.status !== 201) { form.submit(); return; }
    const created = await response.json();
    form.hidden = true;
    panel.hidden = false;
    panel.querySelector("a.open-version").href = created.url;
    followChecks(panel, `/models/${created.modelId}/versions/${created.versionId}/checks`);
  }

  function followChecks(panel, url) {
    const labels = panel.dataset;
    window.ModelHubChecks.follow(panel, url, (data) => {
      const decision = panel.querySelector(".decision");
      const outcome = data.status === "published" ? "Published"
        : data.decision === "block" ? "Blocked" : data.status === "draft" ? "Draft" : "Held";
      decision.textContent = labels[`decision${outcome}`];
      decision.className = `decision decision-${data.decision}`;
      if (data.reason) decision.append(` ${data.reason}`);
      panel.querySelector("h2").textContent = labels.headingFinished;
    }, 1000);
  }

  form.addEventListener("submit", async (event) => {
    if (busy || !input || !input.files.length || !window.fetch) return;
    event.preventDefault();
    busy = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    list.hidden = false;
    list.innerHTML = "";
    const ids = idsField.value ? idsField.value.split(",") : [];
    try {
      for (const file of Array.from(input.files)) {
        const ui = row(file);
        ids.push(await send(file, ui));
      }
      idsField.value = ids.join(",");
      for (const file of Array.from(input.files)) localStorage.removeItem(keyFor(file));
      input.value = "";  // the bytes are on the server already
      await createAndFollowChecks();
    } catch (err) {
      const li = document.createElement("li");
      li.className = "error";
      li.textContent = `${err.message} ${message("nothingSaved")}`;
      list.appendChild(li);
      button.disabled = false;
      busy = false;
    }
  });
})();
