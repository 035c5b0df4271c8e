/* headlens report: the views of the stored maps, drawn by report.js with its helpers (U).
 * - model view: a thumbnail of every layer x head map of a stored sentence; a click (or Enter / Space
 *   on the focused thumbnail, arrows move between them) enlarges that head;
 * - token / word toggle: the maps at sub-token level, or at word level (the run's word aggregation);
 * - before / after: the compared run's map of the same head beside this run's, with their difference;
 * - q.k view: for one query token, per head of the layer, the scaled dot products q.k against every
 *   key (the logits of the softmax) and, where the decomposition stored them, the value norms ||f(x_j)||.
 * Everything reaches the page through textContent / setAttribute, as in report.js. */
function headlensViews(U) {
  "use strict";
  var el = U.el, sv = U.sv, add = U.add, fmt = U.fmt, L = U.layers, H = U.heads;
  var BLUES = [[255, 255, 255], [31, 95, 168]];

  function seqScale(lo, hi) {
    var span = hi - lo || 1;
    return { lo: lo, hi: hi, color: function (v) { return U.lerp(BLUES, (v - lo) / span); } };
  }
  function divScale(m) {
    m = m || 1;
    return { lo: -m, hi: m, color: function (v) { return U.diverging(v / m); } };
  }
  function maxAbs(a, from, n) { var m = 0; for (var i = from; i < from + n; i++) if (isFinite(a[i]) && Math.abs(a[i]) > m) m = Math.abs(a[i]); return m; }

  // one sentence's maps at one level ("token" or "word"), decoded once. With stored q.k logits the page
  // gets each row less its maximum (and the maxima): the token maps are their softmax, the logits their sum.
  function softmaxRows(c, n) {
    var out = new Float32Array(c.length);
    for (var r = 0; r < c.length; r += n) {
      var sum = 0, j;
      for (j = 0; j < n; j++) { out[r + j] = Math.exp(c[r + j]); sum += out[r + j]; }
      for (j = 0; j < n; j++) out[r + j] /= sum;
    }
    return out;
  }
  function Maps(x) {
    var cache = {};
    function once(key, make) { if (!(key in cache)) cache[key] = make(); return cache[key]; }
    function f16(key, b64) { return once(key, function () { return b64 ? U.decodeF16(b64) : null; }); }
    function tokenMaps(side, src) {
      if (side === "after" && x.logits) {
        return once("softmax", function () { return softmaxRows(f16("centred", x.logits), src.token_shape[3]); });
      }
      return f16(side + "t", src.token_attn) || f16(side + "w", src.attn);
    }
    function level(side, lev) {
      var src = side === "before" ? x.before : x;
      if (!src) return null;
      var word = lev === "word", shape = word ? src.shape : src.token_shape;
      var kinds = word ? src.kinds : src.token_unit.map(function (u) { return src.kinds[u]; });
      return { data: word ? f16(side + "w", src.attn) : tokenMaps(side, src), n: shape[shape.length - 1],
        labels: word ? src.units : src.tokens, kinds: kinds };
    }
    return {
      level: level,
      logits: function () {
        if (!x.logits) return null;
        return once("logits", function () {
          var c = f16("centred", x.logits), top = U.decodeF16(x.logits_max), n = x.token_shape[3], out = new Float32Array(c.length);
          for (var k = 0; k < c.length; k++) out[k] = c[k] + top[Math.floor(k / n)];
          return out;
        });
      },
      norms: function () { return f16("norms", x.norms); }
    };
  }

  // a head's n x n map as an SVG matrix: rows = queries, columns = keys
  function matrix(m, l, h, scale, opts) {
    var n = m.n, base = (l * H + h) * n * n, a = opts.values || m.data;
    var cell = Math.max(4, Math.min(22, Math.floor(440 / n))), left = cell >= 9 ? 84 : 8, top = cell >= 9 ? 70 : 8;
    var g = sv("svg", { width: left + n * cell + 6, height: top + n * cell + 6, id: opts.id, "class": "map-matrix",
      role: "img", "aria-label": opts.label + ": " + n + " x " + n + " map of " + U.headLabel(l * H + h),
      "data-layer": l, "data-head": h, "data-rows": n, "data-cols": n });
    if (cell >= 9) {
      m.labels.forEach(function (t, i) {
        var special = m.kinds[i] !== "word" ? " special" : "";
        var r = sv("text", { x: left - 4, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", "class": "unit" + special, "data-row": i }, t);
        if (opts.onRow) {
          r.setAttribute("tabindex", "0"); r.setAttribute("role", "button");
          r.setAttribute("aria-label", "show the q.k products of " + t + " (token " + (i + 1) + ")");
          r.addEventListener("click", function () { opts.onRow(i); });
          r.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); opts.onRow(i); } });
        }
        add(g, r);
        add(g, sv("text", { x: 0, y: 0, "class": "unit" + special, transform: "translate(" + (left + i * cell + cell / 2 + 4) + "," + (top - 4) + ") rotate(-60)" }, t));
      });
    }
    for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) {
      var v = a[base + i * n + j];
      var r = sv("rect", { x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill: scale.color(v), "class": "mv-cell", "data-i": i, "data-j": j });
      (function (i, j, v) { U.tooltip(r, function () { return [m.labels[i] + " \u2192 " + m.labels[j], opts.what + " " + fmt(v)]; }); })(i, j, v);
      add(g, r);
    }
    var box = el("div", { "class": "mv-box" });
    add(box, el("h4", null, opts.label), g, U.legendBar(scale));
    return box;
  }

  function modelView(s, hv) {
    U.note(s, "Every head of one stored sentence at once: rows are layers, columns heads; each thumbnail is that head's map (rows: queries, columns: keys; shade: weight, scaled to the map's largest). Click a thumbnail, or focus it and press Enter or Space (arrow keys move between them), to enlarge that head. Token level shows the model's sub-tokens; word level the same maps aggregated to words as the run's word metrics saw them (" + hv.aggregation + ").");
    var cur = { s: 0, l: 0, h: 0, level: "word", q: 0 }, maps = {};
    function mapsOf(i) { if (!maps[i]) maps[i] = Maps(hv.sentences[i]); return maps[i]; }
    var controls = el("div", { "class": "controls" });
    var sSel = U.select("sentence", hv.sentences.map(function (x, i) {
      var t = x.text + (x.text_b ? " || " + x.text_b : "");
      return { value: i, text: "#" + x.id + ": " + (t.length > 70 ? t.slice(0, 70) + "\u2026" : t) };
    }), function (v) { cur.s = +v; cur.q = 0; drawAll(); }, "mv-sentence");
    var toggle = el("fieldset", { "class": "toggle", id: "mv-level" });
    add(toggle, el("legend", null, "level"));
    ["token", "word"].forEach(function (lev) {
      var lab = el("label"), r = el("input", { type: "radio", name: "mv-level", value: lev, id: "mv-level-" + lev });
      r.checked = lev === cur.level;
      r.addEventListener("change", function () { if (r.checked) { cur.level = lev; drawAll(); } });
      add(lab, r, document.createTextNode(" " + lev + "s"));
      add(toggle, lab);
    });
    add(controls, sSel.node, toggle);
    var info = el("p", { "class": "note", id: "mv-info" });
    var grid = el("div", { "class": "mv-grid", id: "mv-grid", role: "group", "aria-label": "every layer x head map" });
    var detail = el("div", { "class": "mv-detail", id: "mv-detail", "aria-live": "polite" });
    var gridWrap = el("div", { "class": "scroll" });
    add(gridWrap, grid);
    add(s, controls, info, gridWrap, detail);
    var thumbs = [];

    function drawGrid() {
      var x = hv.sentences[cur.s], m = mapsOf(cur.s).level("after", cur.level), n = m.n;
      var px = Math.max(28, Math.min(64, Math.floor(760 / H)));
      grid.textContent = ""; thumbs = [];
      grid.style.gridTemplateColumns = "36px repeat(" + H + ", " + px + "px)";
      add(grid, el("span"));
      for (var h = 0; h < H; h++) add(grid, el("span", { "class": "axis" }, "H" + (h + 1)));
      for (var l = 0; l < L; l++) {
        add(grid, el("span", { "class": "axis" }, "L" + (l + 1)));
        for (h = 0; h < H; h++) {
          var b = el("button", { type: "button", "class": "mv-thumb", "data-layer": l, "data-head": h, tabindex: "-1",
            "aria-label": U.headLabel(l * H + h) + ": enlarge this head", "aria-pressed": "false" });
          var c = el("canvas", { width: n, height: n });
          c.style.width = c.style.height = (px - 6) + "px";
          paint(c, m.data, (l * H + h) * n * n, n);
          add(b, c);
          (function (l, h) {
            b.addEventListener("click", function () { open(l, h, false); });
            b.addEventListener("keydown", function (e) { arrows(e, l, h); });
          })(l, h);
          thumbs.push(b); add(grid, b);
        }
      }
      info.textContent = "sentence " + x.id + (x.sent_id ? " (" + x.sent_id + ")" : "") + ": " + n + " " + cur.level + "s" +
        (cur.level === "token" && n === x.shape[3] ? " (one token per word in this sentence: the token and word maps coincide)" : "");
      mark();
    }
    function paint(canvas, a, base, n) {
      var ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n), hi = 0, k;
      for (k = 0; k < n * n; k++) if (a[base + k] > hi) hi = a[base + k];
      for (k = 0; k < n * n; k++) {
        var t = hi > 0 ? Math.max(0, a[base + k]) / hi : 0;
        img.data[4 * k] = Math.round(255 + t * (BLUES[1][0] - 255)); img.data[4 * k + 1] = Math.round(255 + t * (BLUES[1][1] - 255));
        img.data[4 * k + 2] = Math.round(255 + t * (BLUES[1][2] - 255)); img.data[4 * k + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
    function arrows(e, l, h) {
      var d = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] }[e.key];
      if (!d) return;
      e.preventDefault();
      var nl = Math.max(0, Math.min(L - 1, l + d[0])), nh = Math.max(0, Math.min(H - 1, h + d[1]));
      var t = thumbs[nl * H + nh]; thumbs[l * H + h].setAttribute("tabindex", "-1"); t.setAttribute("tabindex", "0"); t.focus();
    }
    function mark() {
      thumbs.forEach(function (b, k) {
        var on = k === cur.l * H + cur.h;
        b.setAttribute("aria-pressed", on ? "true" : "false"); b.setAttribute("tabindex", on ? "0" : "-1");
        b.classList.toggle("selected", on);
      });
    }
    function open(l, h, scroll) {
      cur.l = l; cur.h = h; mark(); drawDetail();
      if (scroll) s.scrollIntoView();
    }

    function drawDetail() {
      var x = hv.sentences[cur.s], ms = mapsOf(cur.s), after = ms.level("after", cur.level), before = ms.level("before", cur.level);
      var l = cur.l, h = cur.h, n = after.n, base = (l * H + h) * n * n;
      detail.textContent = "";
      add(detail, el("h3", { id: "mv-title", "data-layer": l, "data-head": h }, U.headLabel(l * H + h) + ", sentence " + x.id + ", " + cur.level + " level"));
      var row = el("div", { "class": "row" });
      var hi = maxAbs(after.data, base, n * n);
      var onRow = function (i) { cur.q = cur.level === "token" ? i : firstToken(x, i); drawQK(); };
      if (!before) {
        add(row, matrix(after, l, h, seqScale(0, hi), { id: "mv-matrix", label: "attention", what: "weight", onRow: onRow }));
        add(detail, row);
        if (hv.before_model) U.note(detail, "The compared run (" + hv.before_model + ") stored no maps of this sentence: no before/after view for it.");
      } else {
        add(detail, el("p", { "class": "note" }, "Before: " + hv.before_model + "; after: " + hv.model + " (this run). Difference = after - before, blue below zero, red above."));
        if (before.n !== n) {
          add(row, matrix(after, l, h, seqScale(0, hi), { id: "mv-matrix", label: "after: " + hv.model, what: "weight", onRow: onRow }));
          add(detail, row);
          U.note(detail, "The compared run splits this sentence into " + before.n + " " + cur.level + "s and this run into " + n + ": no difference map at this level.");
        } else {
          var diff = new Float32Array(before.data.length);
          for (var k = base; k < base + n * n; k++) diff[k] = after.data[k] - before.data[k];
          hi = Math.max(hi, maxAbs(before.data, base, n * n));
          add(row, matrix(before, l, h, seqScale(0, hi), { id: "ba-before", label: "before: " + hv.before_model, what: "weight" }),
            matrix(after, l, h, seqScale(0, hi), { id: "mv-matrix", label: "after: " + hv.model, what: "weight", onRow: onRow }),
            matrix(after, l, h, divScale(maxAbs(diff, base, n * n)), { id: "ba-diff", label: "difference (after - before)", what: "after - before", values: diff }));
          row.setAttribute("id", "ba-view");
          add(detail, row);
        }
      }
      add(detail, qkBox);
      drawQK();
    }
    function firstToken(x, unit) { var t = x.token_unit.indexOf(unit); return t < 0 ? 0 : t; }

    // the q.k view of one query token, per head of the enlarged head's layer
    var qkBox = el("div", { id: "qk-view" });
    function drawQK() {
      var x = hv.sentences[cur.s], ms = mapsOf(cur.s), logits = ms.logits(), norms = ms.norms(), tok = ms.level("after", "token");
      var n = tok.n, l = cur.l;
      qkBox.textContent = "";
      add(qkBox, el("h3", null, "q.k view: layer L" + (l + 1) + ", one row per head"));
      if (!logits) { U.note(qkBox, "This run stored no q.k logits (made before headlens stored them, or a model whose attention the fused path cannot read): run it again to see them.", "absent"); return; }
      var sel = U.select("query token", tok.labels.map(function (t, i) { return { value: i, text: (i + 1) + ": " + t }; }), function (v) { cur.q = +v; drawQK(); }, "qk-token");
      sel.select.value = String(cur.q);
      add(qkBox, sel.node);
      U.note(qkBox, "Row H: the scaled dot products q.k / sqrt(d) of \u201c" + tok.labels[cur.q] + "\u201d (token " + (cur.q + 1) + ") against every key: the logits the softmax turns into that head's attention (red above zero, blue below). Click a row label of the map above to choose another token." +
        (norms ? " Below: the value norms ||f(x_j)|| of each key (Kobayashi et al. 2020), and the weight times the norm, ||\u03b1 f(x_j)||." : " Value norms: run with --analyses decomposition to see them."));
      var q = cur.q, rows = [], m = 0;
      for (var h = 0; h < H; h++) {
        var base = ((l * H + h) * n + q) * n, r = Array.prototype.slice.call(logits, base, base + n);
        rows.push(r); m = Math.max(m, maxAbs(r, 0, n));
      }
      add(qkBox, strip(rows, tok, divScale(m), "qk-svg", "qk-row", "q.k"));
      if (norms) {
        var nr = [], ar = [], top = 0, topA = 0;
        for (h = 0; h < H; h++) {
          var nb = (l * H + h) * n, ab = ((l * H + h) * n + q) * n;
          var row = Array.prototype.slice.call(norms, nb, nb + n), w = row.map(function (v, j) { return v * tok.data[ab + j]; });
          nr.push(row); ar.push(w); top = Math.max(top, maxAbs(row, 0, n)); topA = Math.max(topA, maxAbs(w, 0, n));
        }
        add(qkBox, el("h4", null, "value norms ||f(x_j)||"), strip(nr, tok, seqScale(0, top), "qk-norms", "norm-row", "||f(x)||"));
        add(qkBox, el("h4", null, "weight x norm ||\u03b1 f(x_j)|| of the query's row"), strip(ar, tok, seqScale(0, topA), "qk-weighted", "weighted-row", "||\u03b1 f(x)||"));
      }
    }
    function strip(rows, tok, scale, id, rowClass, what) {
      var n = tok.n, cell = Math.max(8, Math.min(26, Math.floor(640 / n))), left = 40, top = 64;
      var g = sv("svg", { width: left + n * cell + 6, height: top + rows.length * 16 + 4, id: id, role: "img", "aria-label": what + " of the query token against every key, one row per head" });
      tok.labels.forEach(function (t, j) {
        add(g, sv("text", { x: 0, y: 0, "class": "unit" + (tok.kinds[j] !== "word" ? " special" : ""), transform: "translate(" + (left + j * cell + cell / 2 + 4) + "," + (top - 4) + ") rotate(-60)" }, t));
      });
      rows.forEach(function (r, h) {
        var gr = sv("g", { "class": rowClass, "data-head": h });
        add(gr, sv("text", { x: left - 4, y: top + h * 16 + 12, "class": "axis", "text-anchor": "end" }, "H" + (h + 1)));
        r.forEach(function (v, j) {
          var c = sv("rect", { x: left + j * cell, y: top + h * 16, width: cell, height: 16, fill: scale.color(v), "class": "qk-cell", "data-j": j });
          U.tooltip(c, function () { return [U.headLabel(cur.l * H + h) + ": " + tok.labels[j], what + " " + fmt(v)]; });
          add(gr, c);
        });
        add(g, gr);
      });
      var box = el("div", { "class": "scroll" });
      add(box, g, U.legendBar(scale));
      return box;
    }

    function drawAll() { if (cur.q >= mapsOf(cur.s).level("after", "token").n) cur.q = 0; drawGrid(); drawDetail(); }
    drawAll();
    return { show: function (l, h) { open(l, h, true); } };
  }

  return { modelView: modelView };
}
