/* Spy-Agency plots drawn from the JSON API (progressive enhancement: each plot has a table of
 * the same numbers beneath it, rendered by the server).
 *
 * A plot is <div class="plot" data-plot-src="/api/v1/..." data-plot-kind="...">. This file
 * fetches the answer, draws it with uPlot (axes, scales, cursor) and paints the marks itself in
 * a draw hook (bars spanning [start, end), boxes, lanes): uPlot draws lines and points, not
 * intervals. Once drawn, the container carries data-drawn = the number of marks painted, so a
 * test can tell an empty canvas from a drawn one. Colours come from CSS custom properties
 * (--plot-*), so the page and the plots share one palette.
 */
(function () {
  "use strict";

  var HOUR = 3600;
  var LANE_PX = 30;

  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function seconds(iso) { return Date.parse(iso) / 1000; }

  function widthOf(el) {
    var inner = el.clientWidth - 8;
    return Math.max(260, Math.min(inner > 0 ? inner : 800, 1400));
  }

  function utcDate(ts) { return window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

  /* Time ticks in UTC, 24 h, as the pages write times: "06-01 14:00", or "06-01" at midnight.
     The axes using them ask for 110 px between ticks: a label is about 80 px wide. */
  function utcTicks(u, splits) {
    return splits.map(function (ts) {
      var iso = new Date(ts * 1000).toISOString();
      var day = iso.slice(5, 10), time = iso.slice(11, 16);
      return time === "00:00" ? day : day + " " + time;
    });
  }

  function shortName(name) { return name.length > 18 ? name.slice(0, 17) + "…" : name; }

  /* A y axis of named lanes, first name on top; lane i spans [n-i-1, n-i). */
  function laneAxis(names) {
    var longest = names.reduce(function (m, n) { return Math.max(m, shortName(n).length); }, 4);
    return {
      scale: "y",
      size: Math.min(150, 14 + longest * 7),
      gap: 4,
      grid: { show: false },
      ticks: { show: false },
      splits: function () { return names.map(function (_, i) { return names.length - i - 0.5; }); },
      values: function () { return names.map(shortName); }
    };
  }

  function laneTop(u, lane, count) { return u.valToPos(count - lane, "y", true); }
  function laneBottom(u, lane, count) { return u.valToPos(count - lane - 1, "y", true); }

  function vline(u, x, colour, label, dash) {
    var ctx = u.ctx;
    var px = u.valToPos(x, "x", true);
    if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) return;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash(dash ? dash.map(function (d) { return d * devicePixelRatio; }) : []);
    ctx.beginPath();
    ctx.moveTo(px, u.bbox.top);
    ctx.lineTo(px, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.fillStyle = colour;
    ctx.font = (11 * devicePixelRatio) + "px system-ui, sans-serif";
    ctx.textAlign = px > u.bbox.left + u.bbox.width / 2 ? "right" : "left";
    ctx.fillText(label, px + (ctx.textAlign === "left" ? 3 : -3) * devicePixelRatio, u.bbox.top + 11 * devicePixelRatio);
    ctx.restore();
  }

  function hline(u, y, colour, label) {
    var ctx = u.ctx;
    var py = u.valToPos(y, "y", true);
    if (py < u.bbox.top || py > u.bbox.top + u.bbox.height) return;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, py);
    ctx.lineTo(u.bbox.left + u.bbox.width, py);
    ctx.stroke();
    ctx.fillStyle = colour;
    ctx.font = (11 * devicePixelRatio) + "px system-ui, sans-serif";
    // At the right end: the left end sits against the y axis and its tick labels.
    var width = ctx.measureText(label).width;
    ctx.fillText(label, u.bbox.left + u.bbox.width - width - 4 * devicePixelRatio, py - 4 * devicePixelRatio);
    ctx.restore();
  }

  function box(u, x0, x1, y0, y1, fill) {
    var left = Math.min(x0, x1), top = Math.min(y0, y1);
    u.ctx.fillStyle = fill;
    u.ctx.fillRect(left, top, Math.max(1, Math.abs(x1 - x0)), Math.abs(y1 - y0));
  }

  /* ---- the state of a workflow, by family (as the dashboard's cells) ---------------------- */

  var STATE_FAMILY = {
    waiting_express: "wait", harvesting: "work", harvested: "work", upload_attempted: "work",
    in_db: "good", no_payload: "good", quality_failed: "bad", upload_failed: "bad",
    timed_out: "bad", rejected_late: "late", unknown: "unknown", not_expected: "none"
  };
  var FAMILY_WORDS = {
    wait: "waiting for express", work: "harvesting / uploading", good: "proven (in DB, no payload)",
    bad: "failed / timed out", late: "rejected late", unknown: "unknown", none: "not expected"
  };

  function familyColour(family) { return css("--plot-" + family, "#888"); }

  function legend(el, items) {
    var list = document.createElement("ul");
    list.className = "plot-legend";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = item.colour;
      li.appendChild(swatch);
      li.appendChild(document.createTextNode(item.label));
      list.appendChild(li);
    });
    el.appendChild(list);
  }

  /* ---- the plots ---------------------------------------------------------------------------- */

  var KINDS = {};

  /* Each workflow's states as bars over time, with the run's deadlines and now. */
  KINDS["state-bars"] = function (data) {
    var names = data.workflows;
    if (!data.bars.length) return null;
    var stamps = data.bars.map(function (b) { return seconds(b.start); })
      .concat(data.bars.map(function (b) { return seconds(b.end); }));
    [data.stop, data.lock_in].forEach(function (t) { if (t) stamps.push(seconds(t)); });
    var low = Math.min.apply(null, stamps), high = Math.max.apply(null, stamps);
    var pad = Math.max((high - low) * 0.02, 60);
    var families = {};
    return {
      marks: data.bars.length,
      opts: {
        height: 60 + names.length * LANE_PX,
        tzDate: utcDate,
        legend: { show: false },
        cursor: { y: false },
        scales: { x: { time: true, range: [low - pad, high + pad] }, y: { range: [0, names.length] } },
        axes: [{ values: utcTicks, space: 110 }, laneAxis(names)],
        series: [{}, { scale: "y", paths: function () { return null; }, points: { show: false } }],
        hooks: {
          draw: [function (u) {
            data.bars.forEach(function (bar) {
              var lane = names.indexOf(bar.workflow);
              var family = STATE_FAMILY[bar.state] || "unknown";
              families[family] = true;
              var inset = 3 * devicePixelRatio;
              box(u, u.valToPos(seconds(bar.start), "x", true), u.valToPos(seconds(bar.end), "x", true),
                laneTop(u, lane, names.length) + inset, laneBottom(u, lane, names.length) - inset,
                familyColour(family));
            });
            var deadline = css("--plot-deadline", "#444");
            if (data.stop) vline(u, seconds(data.stop), deadline, "stop", [2, 3]);
            if (data.harvest_deadline) vline(u, seconds(data.harvest_deadline), deadline, "harvest", [6, 4]);
            if (data.upload_deadline) vline(u, seconds(data.upload_deadline), deadline, "upload", [6, 4]);
            if (data.lock_in) vline(u, seconds(data.lock_in), css("--plot-bad", "#b00020"), "lock-in", [6, 4]);
            vline(u, seconds(data.now), css("--plot-now", "#ffbf00"), "now");
          }]
        }
      },
      columns: [[low, high], [null, null]],
      after: function (el) {
        var shown = {};
        data.bars.forEach(function (b) { shown[STATE_FAMILY[b.state] || "unknown"] = true; });
        legend(el, Object.keys(FAMILY_WORDS).filter(function (f) { return shown[f]; }).map(function (f) {
          return { colour: familyColour(f), label: FAMILY_WORDS[f] };
        }));
      }
    };
  };

  /* Released runs per bin of hours after stop: bars span [start, end), ticks on bin edges. */
  KINDS["release-histogram"] = function (data) {
    var edges = data.edges_hours, counts = data.counts;
    if (!counts.length) return null;
    var top = Math.max.apply(null, counts);
    // At most about ten labels: every k-th edge, always starting at the first.
    var step = Math.ceil(edges.length / 10);
    var ticks = edges.filter(function (_, i) { return i % step === 0; });
    return {
      marks: counts.length,
      opts: {
        height: 260,
        legend: { show: false },
        scales: { x: { time: false, range: [edges[0], edges[edges.length - 1]] }, y: { range: [0, top + 1] } },
        axes: [
          { label: "hours after run stop (bin edges)", splits: function () { return ticks; },
            values: function (u, splits) { return splits.map(function (v) { return String(v); }); } },
          { label: "released runs", splits: function () {
            var every = Math.max(1, Math.ceil((top + 1) / 6)), out = [];
            for (var v = 0; v <= top + 1; v += every) out.push(v);
            return out;
          } }
        ],
        series: [{}, { scale: "y", paths: function () { return null; }, points: { show: false } }],
        hooks: {
          draw: [function (u) {
            var fill = css("--plot-work", "#1d5fa8");
            counts.forEach(function (count, i) {
              if (!count) return;
              var gap = 1 * devicePixelRatio;
              box(u, u.valToPos(edges[i], "x", true) + gap, u.valToPos(edges[i + 1], "x", true) - gap,
                u.valToPos(0, "y", true), u.valToPos(count, "y", true), fill);
            });
            vline(u, data.timer_hours, css("--plot-bad", "#b00020"), data.timer_hours + " h timer", [6, 4]);
          }]
        }
      },
      columns: [edges, counts.concat([null])]
    };
  };

  /* Median and longest release delay per week of run stop, against the timer. */
  KINDS["releases-per-week"] = function (data) {
    var weeks = data.weeks;
    if (!weeks.length) return null;
    var x = weeks.map(function (w) { return Date.parse(w.week_start + "T00:00:00Z") / 1000; });
    var low = x[0] - 3.5 * 24 * HOUR, high = x[x.length - 1] + 3.5 * 24 * HOUR;
    var top = Math.max(data.timer_hours, Math.max.apply(null, weeks.map(function (w) { return w.max_hours; })));
    // Ticks on week starts (at most about eight labels), written as the table writes them.
    var step = Math.ceil(x.length / 8);
    var ticks = x.filter(function (_, i) { return i % step === 0; });
    var label = {};
    weeks.forEach(function (w, i) { label[x[i]] = w.week_start; });
    var timer = css("--plot-bad", "#b00020");
    return {
      marks: weeks.length,
      opts: {
        height: 260,
        scales: { x: { time: false, range: [low, high] }, y: { range: [0, top * 1.1] } },
        axes: [
          { label: "week of run stop (Monday, UTC)", splits: function () { return ticks; },
            values: function (u, splits) { return splits.map(function (v) { return label[v] || ""; }); } },
          { label: "hours after stop" }
        ],
        series: [
          { label: "week", value: function (u, v) { return v === null ? "--" : (label[v] || ""); } },
          { label: "median", stroke: css("--plot-work", "#1d5fa8"), width: 2, points: { show: true, size: 9 } },
          { label: "longest", stroke: css("--plot-late", "#d98a00"), width: 0, paths: function () { return null; },
            points: { show: true, size: 7, fill: css("--plot-late", "#d98a00") } }
        ],
        hooks: {
          draw: [function (u) { hline(u, data.timer_hours, timer, data.timer_hours + " h timer"); }]
        }
      },
      columns: [x, weeks.map(function (w) { return w.median_hours; }), weeks.map(function (w) { return w.max_hours; })]
    };
  };

  /* One box per workflow: whiskers from min to max, the box from q1 to q3, the median. */
  KINDS["proof-latency"] = function (data) {
    var rows = data.workflows;
    if (!rows.length) return null;
    var names = rows.map(function (r) { return r.workflow; });
    var top = Math.max.apply(null, rows.map(function (r) { return r.max_hours; }));
    var low = Math.min(0, Math.min.apply(null, rows.map(function (r) { return r.min_hours; })));
    return {
      marks: rows.length,
      opts: {
        height: 70 + names.length * LANE_PX,
        legend: { show: false },
        cursor: { y: false },
        scales: { x: { time: false, range: [low, top * 1.05 + 0.1] }, y: { range: [0, names.length] } },
        axes: [{ label: "hours from run stop to proof in the CondDB" }, laneAxis(names)],
        series: [{}, { scale: "y", paths: function () { return null; }, points: { show: false } }],
        hooks: {
          draw: [function (u) {
            var colour = css("--plot-work", "#1d5fa8"), ctx = u.ctx;
            rows.forEach(function (r, lane) {
              var y0 = laneTop(u, lane, names.length), y1 = laneBottom(u, lane, names.length);
              var mid = (y0 + y1) / 2, inset = 5 * devicePixelRatio;
              var px = function (v) { return u.valToPos(v, "x", true); };
              ctx.save();
              ctx.strokeStyle = colour;
              ctx.lineWidth = 1.5 * devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(px(r.min_hours), mid); ctx.lineTo(px(r.q1_hours), mid);
              ctx.moveTo(px(r.q3_hours), mid); ctx.lineTo(px(r.max_hours), mid);
              [r.min_hours, r.max_hours].forEach(function (v) {
                ctx.moveTo(px(v), y0 + inset * 1.5); ctx.lineTo(px(v), y1 - inset * 1.5);
              });
              ctx.stroke();
              box(u, px(r.q1_hours), px(r.q3_hours), y0 + inset, y1 - inset, css("--plot-work-light", "#bcd3f0"));
              ctx.strokeRect(Math.min(px(r.q1_hours), px(r.q3_hours)), y0 + inset,
                Math.max(1, Math.abs(px(r.q3_hours) - px(r.q1_hours))), y1 - y0 - 2 * inset);
              ctx.lineWidth = 3 * devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(px(r.median_hours), y0 + inset); ctx.lineTo(px(r.median_hours), y1 - inset);
              ctx.stroke();
              ctx.restore();
            });
          }]
        }
      },
      columns: [[low, top], [null, null]]
    };
  };

  /* Per source, one cell per hour: all polls fine, some failed, all failed, or no poll. */
  KINDS["source-history"] = function (data) {
    var hours = data.hours.map(seconds);
    if (!hours.length) return null;
    var names = data.sources.map(function (s) { return s.source; });
    var painted = 0;
    data.sources.forEach(function (s) {
      s.successes.forEach(function (ok, i) { if (ok + s.failures[i] > 0) painted += 1; });
    });
    var colours = { good: familyColour("good"), late: familyColour("late"), bad: familyColour("bad") };
    return {
      marks: painted,
      opts: {
        height: 60 + names.length * LANE_PX,
        tzDate: utcDate,
        legend: { show: false },
        cursor: { y: false },
        scales: { x: { time: true, range: [hours[0], hours[hours.length - 1] + HOUR] }, y: { range: [0, names.length] } },
        axes: [{ values: utcTicks, space: 110 }, laneAxis(names)],
        series: [{}, { scale: "y", paths: function () { return null; }, points: { show: false } }],
        hooks: {
          draw: [function (u) {
            data.sources.forEach(function (s, lane) {
              var y0 = laneTop(u, lane, names.length) + 3 * devicePixelRatio;
              var y1 = laneBottom(u, lane, names.length) - 3 * devicePixelRatio;
              s.successes.forEach(function (ok, i) {
                var failed = s.failures[i];
                if (ok + failed === 0) return;
                var colour = failed === 0 ? colours.good : (ok === 0 ? colours.bad : colours.late);
                box(u, u.valToPos(hours[i], "x", true), u.valToPos(hours[i] + HOUR, "x", true), y0, y1, colour);
              });
            });
          }]
        }
      },
      columns: [[hours[0], hours[hours.length - 1] + HOUR], [null, null]],
      after: function (el) {
        legend(el, [
          { colour: colours.good, label: "every poll answered" },
          { colour: colours.late, label: "some polls failed" },
          { colour: colours.bad, label: "every poll failed" }
        ]);
      }
    };
  };

  /* ---- drawing --------------------------------------------------------------------------- */

  function drawOne(el) {
    var build = KINDS[el.getAttribute("data-plot-kind")];
    var src = el.getAttribute("data-plot-src");
    if (!build || !src) return Promise.resolve();
    return fetch(src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var plot = build(data);
        if (!plot) { el.setAttribute("data-drawn", "0"); return; }
        el.querySelectorAll(".plot-fallback, .uplot, .plot-legend").forEach(function (old) { old.remove(); });
        plot.opts.width = widthOf(el);
        var chart = new window.uPlot(plot.opts, plot.columns, el);
        if (plot.after) plot.after(el);
        el.setAttribute("data-drawn", String(plot.marks));
        charts.push({ el: el, chart: chart });
      })
      .catch(function () { el.setAttribute("data-drawn", "error"); });
  }

  var charts = [];

  function draw(root) {
    if (!window.uPlot) return;
    charts = charts.filter(function (entry) { return document.body.contains(entry.el); });
    (root || document).querySelectorAll("div.plot[data-plot-src]").forEach(drawOne);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    if (resizeTimer !== null) window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      charts.forEach(function (entry) {
        entry.chart.setSize({ width: widthOf(entry.el), height: entry.chart.height });
      });
    }, 150);
  });

  // The run page's detail is replaced on live updates: app.js calls this to draw it again.
  window.SpyAgencyPlots = { draw: draw };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { draw(); });
  else draw();
})();
