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

// A job's page polls its progress until it is done, then offers the download.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-job-status]");
  if (!box) return;
  const state = box.querySelector(".job-state");
  if (["done", "failed"].includes(state.dataset.state)) return;
  const poll = async () => {
    const response = await fetch(box.dataset.jobStatus, { credentials: "same-origin" });
    if (!response.ok) return;
    const job = await response.json();
    const bar = box.querySelector(".job-progress");
    bar.max = job.total || 1;
    bar.value = job.done;
    box.querySelector(".job-count").textContent = `${job.done} / ${job.total}`;
    if (job.status === "done" || job.status === "failed") {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 500);
});
