// Maple's only script: ask before a form marked data-confirm is sent. Kept external so the
// Content-Security-Policy can forbid inline scripts.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
