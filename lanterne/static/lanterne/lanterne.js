/* Lanterne's own behaviour, in a static file: the pages' Content-Security-Policy
   allows no inline script and no event handler attribute (on…=).

   A control marked `data-submit-on-change` submits its form as soon as its
   value changes (the language menu). Listening on the document also covers
   controls htmx brings in later. Without JavaScript, the form keeps its
   <noscript> button. */
document.addEventListener("change", (event) => {
  const control = event.target;
  if (control instanceof Element && control.matches("[data-submit-on-change]") && control.form) {
    // requestSubmit() runs the form's submit event and validation, as a click would.
    if (control.form.requestSubmit) control.form.requestSubmit();
    else control.form.submit();
  }
});
