// Follows a version's checks while they run, for the model page (#checks, reloaded once
// everything is done so the decision and the files' state show) and for the upload page
// (upload.js calls ModelHubChecks.follow after the form is saved). Rows the server rendered
// are updated in place; rows for checks that started later are added.
(function () {
  "use strict";

  function render(rows, run, nothingFound) {
    let row = rows.querySelector(`tr[data-run="${run.id}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.run = run.id;
      row.innerHTML = '<td></td><td></td><td class="state"></td><td class="findings"></td>';
      row.children[0].textContent = run.label;
      row.children[1].textContent = run.target;
      rows.querySelector("tr.no-checks")?.remove();
      rows.appendChild(row);
    }
    const state = row.querySelector(".state");
    state.className = `state state-${run.state}`;
    state.textContent = run.state_label;
    const cell = row.querySelector(".findings");
    cell.replaceChildren();
    for (const finding of run.findings) {
      const p = document.createElement("p");
      p.className = `finding severity-${finding.severity}`;
      const strong = document.createElement("strong");
      strong.textContent = finding.severity_label;
      p.append(strong, ` · ${finding.rule_title}: ${finding.message}`);
      cell.append(p);
    }
    if (!run.findings.length) cell.textContent = run.state === "done" ? nothingFound : "—";
  }

  // Polls `url` until the checks are finished and decided, then calls onFinished(data).
  // A busy or unreachable server is retried with a growing delay, up to 30 s.
  function follow(panel, url, onFinished, interval = 2000) {
    const rows = panel.querySelector("tbody");
    let delay = interval;
    async function poll() {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        data.runs.forEach((run) => render(rows, run, data.nothing_found));
        if (data.finished && data.decision) {
          panel.setAttribute("aria-busy", "false");
          onFinished(data);
          return;
        }
        delay = interval;
      } catch (error) {
        delay = Math.min(delay * 2, 30000);
      }
      window.setTimeout(poll, delay);
    }
    panel.setAttribute("aria-busy", "true");
    window.setTimeout(poll, interval);
  }

  window.ModelHubChecks = { follow };

  const modelPagePanel = document.getElementById("checks");
  if (modelPagePanel && modelPagePanel.dataset.statusUrl) {
    follow(modelPagePanel, modelPagePanel.dataset.statusUrl, () => window.location.reload());
  }
})();
