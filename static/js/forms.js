/* The product's forms, enhanced: the fields of the chosen kind only as it changes, key/value rows that grow and
   shrink, tags as chips. Without this script the page shows the fields of the kind chosen when it was sent
   (labelled with the kinds they serve; another kind's show once the form is sent), the rows are plain inputs
   and tags a comma-separated text box: the server accepts both the same way. */
(function () {
  "use strict";

  function toggleKinds(form) {
    var selects = ["kind", "scope"].map(function (name) { return form.querySelector("select[name='" + name + "']"); })
      .filter(Boolean);
    function apply() {
      var chosen = selects.map(function (s) { return s.value; });
      // The rule the server applies to the page it sends (dashboard/kind_fields.py): a field shows when a
      // value it serves is chosen (data-for; none: every value), unless a value that hides it is (data-unless).
      function picked(field, attribute) {
        return field.getAttribute(attribute).split(" ").some(function (o) { return chosen.indexOf(o) !== -1; });
      }
      form.querySelectorAll("[data-for], [data-unless]").forEach(function (field) {
        var serves = !field.hasAttribute("data-for") || picked(field, "data-for");
        var hides = field.hasAttribute("data-unless") && picked(field, "data-unless");
        field.hidden = !serves || hides;
      });
      form.querySelectorAll(".for-kinds").forEach(function (note) { note.hidden = true; });
    }
    selects.forEach(function (s) { s.addEventListener("change", apply); });
    apply();
  }

  function keyValue(editor) {
    var list = editor.querySelector(".kv-rows");
    var add = editor.querySelector(".kv-add");
    function wire(row) {
      var remove = row.querySelector(".kv-remove");
      remove.hidden = false;
      remove.addEventListener("click", function () {
        if (list.children.length > 1) { row.remove(); } else { row.querySelectorAll("input").forEach(function (i) { i.value = ""; }); }
      });
    }
    Array.prototype.forEach.call(list.children, wire);
    add.hidden = false;
    add.addEventListener("click", function () {
      var row = list.lastElementChild.cloneNode(true);
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      list.appendChild(row);
      wire(row);
      row.querySelector("input").focus();
    });
  }

  function chips(input) {
    var box = document.createElement("ul");
    box.className = "chips";
    box.setAttribute("aria-label", "Tags");
    input.insertAdjacentElement("afterend", box);
    function tags() { return input.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean); }
    function render() {
      box.textContent = "";
      tags().forEach(function (tag, index) {
        var item = document.createElement("li");
        item.className = "chip-tag";
        item.textContent = tag + " ";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link-button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "Remove tag " + tag);
        remove.addEventListener("click", function () {
          var rest = tags();
          rest.splice(index, 1);
          input.value = rest.join(", ");
          render();
        });
        item.appendChild(remove);
        box.appendChild(item);
      });
    }
    input.addEventListener("input", render);
    render();
  }

  document.querySelectorAll("form.kind-form").forEach(toggleKinds);
  document.querySelectorAll("[data-kv]").forEach(keyValue);
  document.querySelectorAll("input[data-chips]").forEach(chips);
})();
