// Maple's only script: ask before a form marked data-confirm is sent. Kept external so the
// Content-Security-Policy can forbid inline scripts.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// A checkbox with data-check-all="name" ticks or clears every checkbox of that name.
document.addEventListener("change", (event) => {
  const all = event.target.closest("input[data-check-all]");
  if (!all) return;
  const form = all.form || document;
  form.querySelectorAll(`input[type=checkbox][name="${all.dataset.checkAll}"]`).forEach((box) => {
    box.checked = all.checked;
  });
});

// The batch form shows the client of the chosen contract.
document.addEventListener("change", (event) => {
  if (event.target.id !== "contract") return;
  const shown = document.getElementById("batch-client");
  if (!shown) return;
  const clients = JSON.parse(shown.dataset.clients || "{}");
  shown.textContent = clients[event.target.value] || "—";
});

// A running job's box polls its progress (the job as JSON, or {job: …}) and reloads the
// page when the job has ended, so the server shows the result.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-job-status]");
  if (!box || ["done", "failed"].includes(box.dataset.state)) return;
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.jobStatus, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const body = await response.json();
        const job = body.job || body;
        const bar = box.querySelector("progress");
        if (bar && job.total) {
          bar.max = job.total;
          bar.value = job.done;
        }
        const count = box.querySelector("[data-progress-text]");
        if (count) count.textContent = `${job.done} / ${job.total}`;
        if (job.status !== "queued" && job.status !== "running") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // a dropped request is retried on the next tick
    }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 500);
});
