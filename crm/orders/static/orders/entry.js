/* Fast order entry: add lines with Enter, move between lines with the arrow keys, pick
   customers and products from the server's suggestions with the keyboard; the server
   recomputes the totals (htmx) whenever something changes. No framework, no CDN. */
(function () {
  "use strict";
  var form = document.getElementById("order-entry");
  if (!form) { return; }
  var body = document.getElementById("entry-lines");
  var template = document.getElementById("entry-line-template");
  var nextKey = parseInt(form.getAttribute("data-next-key") || "0", 10);

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr.entry-line")); }
  function recalc() { if (window.htmx) { window.htmx.trigger(form, "recalc"); } }
  function rowOf(el) { return el.closest("tr.entry-line"); }

  function addLine(focus) {
    var html = template.innerHTML.split("__KEY__").join(String(nextKey));
    nextKey += 1;
    body.insertAdjacentHTML("beforeend", html);
    var row = body.lastElementChild;
    if (window.htmx) { window.htmx.process(row); }
    if (focus) { row.querySelector(".f-product").focus(); }
    return row;
  }

  function suggestions(box) { return box ? Array.prototype.slice.call(box.querySelectorAll("button")) : []; }

  function chooseProduct(button) {
    var row = body.querySelector('tr[data-key="' + button.getAttribute("data-row") + '"]');
    if (!row) { return; }
    row.querySelector(".f-product-id").value = button.getAttribute("data-id");
    row.querySelector(".f-product").value = button.getAttribute("data-sku");
    row.querySelector(".f-name").value = button.getAttribute("data-name");
    row.querySelector(".pname").textContent = button.getAttribute("data-name");
    row.querySelector(".f-price").placeholder = button.getAttribute("data-price");
    row.querySelector(".suggest").innerHTML = "";
    var qty = row.querySelector(".f-qty");
    if (!qty.value) { qty.value = "1"; }
    qty.focus();
    qty.select();
    recalc();
  }

  function chooseCustomer(button) {
    document.getElementById("f-customer-id").value = button.getAttribute("data-id");
    document.getElementById("customer-chosen").textContent = button.getAttribute("data-name");
    document.getElementById("f-customer-q").value = "";
    document.getElementById("customer-suggest").innerHTML = "";
    var address = document.getElementById("f-delivery_address");
    if (address && !address.value) { address.value = button.getAttribute("data-address") || ""; }
    var first = rows()[0] || addLine(false);
    first.querySelector(".f-product").focus();
    recalc();
  }

  form.addEventListener("click", function (event) {
    var product = event.target.closest("[data-pick-product]");
    if (product) { event.preventDefault(); chooseProduct(product); return; }
    var customer = event.target.closest("[data-pick-customer]");
    if (customer) { event.preventDefault(); chooseCustomer(customer); return; }
    if (event.target.closest("[data-add-line]")) { event.preventDefault(); addLine(true); return; }
    var remove = event.target.closest("[data-remove-line]");
    if (remove) {
      event.preventDefault();
      rowOf(remove).remove();
      if (!rows().length) { addLine(true); }
      recalc();
    }
  });

  form.addEventListener("input", function (event) {
    // a product box edited after a product was chosen names no product until one is chosen again
    if (event.target.matches(".f-product")) {
      var row = rowOf(event.target);
      row.querySelector(".f-product-id").value = "";
      row.querySelector(".f-name").value = "";
      row.querySelector(".pname").textContent = "";
    }
  });

  form.addEventListener("keydown", function (event) {
    var el = event.target;
    var key = event.key;
    // inside a suggestion list: arrows move, Escape goes back to the box
    if (el.matches(".suggest-list button")) {
      var list = suggestions(el.closest(".suggest, #customer-suggest"));
      var i = list.indexOf(el);
      if (key === "ArrowDown" && i < list.length - 1) { event.preventDefault(); list[i + 1].focus(); }
      if (key === "ArrowUp") {
        event.preventDefault();
        if (i > 0) { list[i - 1].focus(); } else {
          var home = el.closest("td") ? el.closest("td").querySelector(".f-product") : document.getElementById("f-customer-q");
          home.focus();
        }
      }
      if (key === "Escape") {
        event.preventDefault();
        var back = el.closest("td") ? el.closest("td").querySelector(".f-product") : document.getElementById("f-customer-q");
        el.closest(".suggest, #customer-suggest").innerHTML = "";
        back.focus();
      }
      return;
    }
    if (el.id === "f-customer-q") {
      var found = suggestions(document.getElementById("customer-suggest"));
      if (key === "ArrowDown" && found.length) { event.preventDefault(); found[0].focus(); }
      if (key === "Enter") { event.preventDefault(); if (found.length) { chooseCustomer(found[0]); } }
      return;
    }
    var row = rowOf(el);
    if (!row) { return; }
    if (el.matches(".f-product")) {
      var offered = suggestions(row.querySelector(".suggest"));
      if (key === "ArrowDown" && offered.length) { event.preventDefault(); offered[0].focus(); return; }
      if (key === "Enter") { event.preventDefault(); if (offered.length) { chooseProduct(offered[0]); } return; }
    }
    if (key === "Enter") {
      // Enter in a line adds the next line (or moves to it)
      event.preventDefault();
      var all = rows();
      var index = all.indexOf(row);
      if (index === all.length - 1) { addLine(true); } else { all[index + 1].querySelector(".f-product").focus(); }
      recalc();
      return;
    }
    if (key === "ArrowDown" || key === "ArrowUp") {
      var lines = rows();
      var target = lines[lines.indexOf(row) + (key === "ArrowDown" ? 1 : -1)];
      if (target) {
        event.preventDefault();
        var column = Array.prototype.slice.call(row.querySelectorAll("input:not([type=hidden])")).indexOf(el);
        var cells = target.querySelectorAll("input:not([type=hidden])");
        (cells[column] || cells[0]).focus();
      }
    }
  });

  form.addEventListener("submit", function () {
    // empty trailing lines are not sent as errors: the server skips lines with no product and no quantity
    rows().forEach(function (row) {
      if (!row.querySelector(".f-product-id").value && !row.querySelector(".f-qty").value) {
        row.querySelectorAll("input").forEach(function (input) { input.disabled = true; });
      }
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    // after htmx has set up the form: the totals of an order being edited show at once
    if (!rows().length) { addLine(false); }
    if (document.getElementById("f-customer-id").value) { recalc(); }
  });
})();
