/* Spy-Agency pages: progressive enhancement only. Every page is complete without this file.
 *
 * 1. Live updates: one EventSource on /api/v1/events/stream. An event about run N swaps the
 *    dashboard row of N (GET /fragments/runs/N/row) or the run page's detail (GET
 *    /fragments/runs/N/detail), and refreshes the verdict counts; swaps are coalesced so a
 *    burst of events costs one request per run.
 * 2. Countdowns: every <time data-lock-in> shows the time left, updated each second, and
 *    every <time data-eta> (a forecast) the time until it.
 * 3. Plots: uPlot charts from the JSON in data-series attributes (plots drawn from the API
 *    are plots.js's; a replaced run detail is handed to it to draw again).
 * Action forms need nothing here: they are plain form posts answered by a redirect.
 */
(function () {
  "use strict";

  var EVENT_KINDS = ["verdict", "workflow_state", "override", "alert", "signal"];
  var SWAP_DELAY_MS = 250;

  function setLiveStatus(text) {
    var status = document.getElementById("live-status");
    if (status) status.textContent = text;
  }

  /* ---- 2. countdowns ---------------------------------------------------------------- */

  function formatLeft(ms) {
    var sign = ms < 0 ? "overdue " : "in ";
    var total = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(total / 86400);
    var h = Math.floor((total % 86400) / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var pad = function (n) { return n < 10 ? "0" + n : String(n); };
    if (d > 0) return sign + d + "d " + pad(h) + "h";
    if (h > 0) return sign + h + "h " + pad(m) + "m";
    return sign + m + "m " + pad(s) + "s";
  }

  /* The agency's clock may be a replay or a sped-up demo: count from the server's "now". */
  var serverOffset = (function () {
    var stamp = Date.parse(document.body.getAttribute("data-now") || "");
    return isNaN(stamp) ? 0 : stamp - Date.now();
  })();

  function tickCountdowns() {
    var now = Date.now() + serverOffset;
    document.querySelectorAll("time[data-lock-in]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-lock-in") || "");
      if (isNaN(at)) return;
      var left = at - now;
      el.textContent = formatLeft(left);
      el.classList.toggle("soon", left >= 0 && left < 6 * 3600 * 1000);
      el.classList.toggle("overdue", left < 0);
    });
    // Forecasts: a moment expected, not a deadline; past it, the proof is due any minute.
    document.querySelectorAll("time[data-eta]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-eta") || "");
      if (isNaN(at)) return;
      el.textContent = at > now ? formatLeft(at - now).replace(/^in /, "in about ") : "any time now";
    });
  }

  /* ---- 1. live updates ---------------------------------------------------------------- */

  var pendingRuns = new Set();
  var swapTimer = null;

  function rowUrl(run, table) {
    var params = new URLSearchParams();
    params.set("columns", table.getAttribute("data-columns") || "");
    if (table.getAttribute("data-wall") === "1") params.set("wall", "1");
    return "/fragments/runs/" + encodeURIComponent(run) + "/row?" + params.toString();
  }

  function fetchHtml(url) {
    return fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" }).then(
      function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) {
          return { html: html, fcsr: response.headers.get("X-FCSR") };
        });
      }
    );
  }

  function parseRow(html) {
    var holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    return holder.querySelector("tr");
  }

  function moveFcsr(fcsr) {
    document.querySelectorAll("tr.is-fcsr").forEach(function (row) {
      if (row.getAttribute("data-run") !== fcsr) {
        row.classList.remove("is-fcsr");
        var badge = row.querySelector(".run-id .fcsr-badge");
        if (badge) badge.remove();
      }
    });
  }

  function swapRow(run, table) {
    var body = table.querySelector("tbody");
    var existing = document.getElementById("run-" + run);
    var newest = body.querySelector("tr.run-row");
    // A new run goes on top, unless a filter is on: it may not match it.
    var filtered = /[?&](verdict|run_class|era)=[^&]/.test(window.location.search);
    var isNewer = !filtered && newest && Number(run) > Number(newest.getAttribute("data-run"));
    if (!existing && !isNewer) return Promise.resolve();
    return fetchHtml(rowUrl(run, table)).then(function (answer) {
      var row = parseRow(answer.html);
      if (!row) return;
      if (existing) existing.replaceWith(row);
      else body.insertBefore(row, newest);
      row.classList.add("just-changed");
      window.setTimeout(function () { row.classList.remove("just-changed"); }, 2000);
      if (answer.fcsr !== null) moveFcsr(answer.fcsr);
    });
  }

  function refreshSummary() {
    var summary = document.getElementById("summary");
    if (!summary) return Promise.resolve();
    return fetchHtml("/fragments/summary").then(function (answer) {
      var holder = document.createElement("div");
      holder.innerHTML = answer.html.trim();
      var fresh = holder.querySelector("#summary");
      if (fresh) summary.replaceWith(fresh);
    });
  }

  function swapDetail(run, detail) {
    if (detail.getAttribute("data-run") !== String(run)) return Promise.resolve();
    // Do not pull the form from under someone who is typing in it.
    if (detail.contains(document.activeElement) && document.activeElement.form) {
      setLiveStatus("run changed: reload to see it");
      return Promise.resolve();
    }
    return fetchHtml("/fragments/runs/" + encodeURIComponent(run) + "/detail").then(
      function (answer) {
        detail.innerHTML = answer.html;
        tickCountdowns();
        if (window.SpyAgencyPlots) window.SpyAgencyPlots.draw(detail);
      }
    );
  }

  function flush() {
    swapTimer = null;
    var runs = Array.from(pendingRuns);
    pendingRuns.clear();
    var table = document.getElementById("runs");
    var detail = document.getElementById("run-detail");
    var work = [];
    runs.forEach(function (run) {
      if (table) work.push(swapRow(run, table));
      if (detail) work.push(swapDetail(run, detail));
    });
    if (table) work.push(refreshSummary());
    Promise.all(work).then(
      function () { tickCountdowns(); setLiveStatus("live · updated " + new Date().toISOString().slice(11, 19) + "Z"); },
      function () { setLiveStatus("live · an update failed; reload to be sure"); }
    );
  }

  function onEvent(message) {
    var data;
    try { data = JSON.parse(message.data); } catch (e) { return; }
    if (data === null || data.run === null || data.run === undefined) return;
    pendingRuns.add(String(data.run));
    if (swapTimer === null) swapTimer = window.setTimeout(flush, SWAP_DELAY_MS);
  }

  function startLive() {
    if (!window.EventSource) return;
    if (!document.getElementById("runs") && !document.getElementById("run-detail")) return;
    var source = new EventSource("/api/v1/events/stream");
    EVENT_KINDS.forEach(function (kind) { source.addEventListener(kind, onEvent); });
    source.addEventListener("message", onEvent);
    source.addEventListener("open", function () { setLiveStatus("live"); });
    source.addEventListener("error", function () { setLiveStatus("live updates reconnecting…"); });
    document.body.setAttribute("data-live", "on");
  }

  /* ---- rows are links ------------------------------------------------------------------ */

  function rowClicks() {
    var table = document.getElementById("runs");
    if (!table) return;
    table.addEventListener("click", function (event) {
      var target = event.target;
      if (target.closest("a, button, input, select")) return;
      var row = target.closest("tr.run-row");
      if (row) window.location.assign("/runs/" + row.getAttribute("data-run"));
    });
  }

  /* ---- 3. plots ------------------------------------------------------------------------ */

  function plotWidth(el) { return Math.max(320, Math.min(el.clientWidth || 800, 1400)); }

  var PLOTS = {
    latency: function (data) {
      return {
        opts: {
          title: "hours after run stop", height: 260,
          scales: { x: { time: false } },
          axes: [{ label: "run" }, { label: "hours" }],
          series: [{ label: "run" },
            { label: "harvested", stroke: "#1f77b4", points: { show: true } },
            { label: "proven in DB", stroke: "#d62728", points: { show: true } }]
        },
        columns: [data.runs, data.harvest_hours, data.proof_hours]
      };
    },
    dqm: function (data) {
      return {
        opts: {
          title: "DQM figures per run", height: 220,
          scales: { x: { time: false } },
          axes: [{ label: "run" }, { label: "count / flag" }],
          series: [{ label: "run" },
            { label: "failed tests", stroke: "#d62728", points: { show: true } },
            { label: "vetoed", stroke: "#9467bd", points: { show: true } },
            { label: "DB updated", stroke: "#2ca02c", points: { show: true } }]
        },
        columns: [data.runs, data.failed_tests, data.vetoed, data.db_updated]
      };
    }
  };

  function drawPlots() {
    if (!window.uPlot) return;
    document.querySelectorAll("div.plot[data-plot]").forEach(function (el) {
      var build = PLOTS[el.getAttribute("data-plot")];
      var data;
      try { data = JSON.parse(el.getAttribute("data-series") || "{}"); } catch (e) { return; }
      if (!build) return;
      var plot = build(data);
      if (!plot.columns[0] || plot.columns[0].length === 0) return;
      plot.opts.width = plotWidth(el);
      var fallback = el.querySelector(".plot-fallback");
      if (fallback) fallback.remove();
      new window.uPlot(plot.opts, plot.columns, el);
    });
  }

  function start() {
    tickCountdowns();
    window.setInterval(tickCountdowns, 1000);
    rowClicks();
    drawPlots();
    startLive();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
