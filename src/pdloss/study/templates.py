"""The study's HTML pages (Jinja templates kept in Python so that they ship inside the wheel).

Pages are rendered on the server. The only script, on the question page, maps the keys
left/right arrow and 1/2 to the two answer buttons and blocks a second submission; without
JavaScript a click on an image still submits the form.
"""

from __future__ import annotations

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{% block title %}{{ title }}{% endblock %}</title>
<style nonce="{{ csp_nonce }}">
 body { font-family: system-ui, sans-serif; margin: 0; background: #808080; color: #111; }
 main { max-width: 62rem; margin: 2rem auto; background: #f4f4f4; padding: 1.5rem 2rem; border-radius: 6px; }
 main.wide { max-width: none; margin: 0; padding: 0.75rem 1rem; border-radius: 0; background: #808080; }
 .bar { display: flex; gap: 1.5rem; align-items: center; color: #fff; font-size: 1.05rem; }
 progress { width: 16rem; height: 0.9rem; }
 .pair { display: flex; gap: 16px; justify-content: center; align-items: flex-start; margin-top: 0.6rem; }
 .choice { padding: 0; margin: 0; border: 4px solid transparent; background: none; cursor: pointer; }
 .choice:hover, .choice:focus-visible { border-color: #ffd400; outline: none; }
 .choice img { display: block; max-width: none; image-rendering: auto; }
 .label { color: #fff; text-align: center; margin-top: 0.3rem; font-size: 1rem; }
 .ref { text-align: center; margin-top: 1rem; color: #fff; }
 .warn { background: #fff3cd; color: #5a4500; padding: 0.4rem 0.8rem; border-radius: 4px; margin: 0.4rem 0; }
 .hidden { display: none; }
 table { border-collapse: collapse; }
 td, th { border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: right; }
 th:first-child, td:first-child { text-align: left; }
 button.start { font-size: 1.2rem; padding: 0.5rem 1.5rem; }
 kbd { border: 1px solid #888; border-radius: 3px; padding: 0 0.3rem; background: #fff; color: #111; }
</style></head>
<body>{% block body %}{% endblock %}</body></html>
"""

INSTRUCTIONS = """{% extends "base.html" %}
{% block body %}<main>
<h1>{{ title }}</h1>
<p>You will see <b>{{ questions }}</b> pairs of images. The two images of a pair are two versions
of the same photograph{% if has_reference %}; the original is shown below them for comparison{% endif %}.</p>
<p><b>Choose the image with the better quality.</b> There are no right or wrong answers; if the two look
alike to you, pick the one you would rather keep. You must pick one to go on.</p>
<ul>
 <li>Use a display with a resolution of at least <b>1920&times;1080</b>,
     with the browser window maximised.</li>
 <li><b>Do not zoom</b> the page (keep the browser at 100%): the images are shown pixel for pixel.</li>
 <li>Click the better image, or press <kbd>&larr;</kbd> or <kbd>1</kbd> for the left one and
     <kbd>&rarr;</kbd> or <kbd>2</kbd> for the right one.</li>
 <li>Each answer is saved at once; you can close the page and come back later in the same browser.</li>
</ul>
<p id="screen-warning" class="warn hidden"></p>
{% if progress is not none %}
<p>You have answered {{ progress }} of {{ questions }} questions.</p>
<p><a href="{{ url_for('.question') }}"><button class="start" type="button">Continue</button></a></p>
{% else %}
<form method="post" action="{{ url_for('.start') }}">
<button class="start" id="start" type="submit">Start</button></form>
{% endif %}
</main>
<script nonce="{{ csp_nonce }}">
(function () {
  var w = Math.round(screen.width * (window.devicePixelRatio || 1));
  var h = Math.round(screen.height * (window.devicePixelRatio || 1));
  if (w < 1920 || h < 1080) {
    var el = document.getElementById('screen-warning');
    el.textContent = 'Your screen reports ' + w + '\\u00d7' + h + ' pixels; '
      + 'this study asks for 1920\\u00d71080 or more.';
    el.classList.remove('hidden');
  }
})();
</script>
{% endblock %}
"""

QUESTION = """{% extends "base.html" %}
{% block body %}<main class="wide">
<div class="bar"><span id="position">Question {{ position }} of {{ total }}</span>
<progress max="{{ total }}" value="{{ position - 1 }}"></progress>
<span>Which image has the better quality? Click it, or press
<kbd>&larr;</kbd>/<kbd>1</kbd> or <kbd>&rarr;</kbd>/<kbd>2</kbd>.</span></div>
<p id="narrow-warning" class="warn hidden">The window is too narrow to show both images at full size:
please maximise it (and keep the zoom at 100%).</p>
<form id="vote" method="post" action="{{ url_for('.vote') }}">
<input type="hidden" name="token" value="{{ token }}">
<input type="hidden" name="ms" value="">
<div class="pair">
 <div><button class="choice" id="choose-left" type="submit" name="choice" value="left">
  <img src="{{ url_for('.image', token=token, which='left') }}"
   width="{{ w }}" height="{{ h }}" alt="left image"></button>
  <div class="label">left (&larr; or 1)</div></div>
 <div><button class="choice" id="choose-right" type="submit" name="choice" value="right">
  <img src="{{ url_for('.image', token=token, which='right') }}"
   width="{{ w }}" height="{{ h }}" alt="right image"></button>
  <div class="label">right (&rarr; or 2)</div></div>
</div>
</form>
{% if has_reference %}<div class="ref"><div>original (for comparison; not a choice)</div>
<img src="{{ url_for('.image', token=token, which='reference') }}"
 width="{{ w }}" height="{{ h }}" alt="original image"></div>{% endif %}
</main>
<script nonce="{{ csp_nonce }}">
(function () {
  var form = document.getElementById('vote');
  var shown = performance.now();
  var sent = false;
  form.addEventListener('submit', function (e) {
    if (sent) { e.preventDefault(); return; }
    sent = true;
    form.elements.ms.value = String(Math.round(performance.now() - shown));
  });
  document.addEventListener('keydown', function (e) {
    if (e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    var id = null;
    if (e.key === 'ArrowLeft' || e.key === '1') id = 'choose-left';
    if (e.key === 'ArrowRight' || e.key === '2') id = 'choose-right';
    if (id) { e.preventDefault(); if (!sent) document.getElementById(id).click(); }
  });
  if (window.innerWidth < 2 * {{ w }} + 60)
    document.getElementById('narrow-warning').classList.remove('hidden');
})();
</script>
{% endblock %}
"""

DONE = """{% extends "base.html" %}
{% block body %}<main>
<h1>Thank you!</h1>
<p id="done">You answered all {{ total }} questions.</p>
<p>Your completion code: <b id="code">{{ code }}</b></p>
</main>{% endblock %}
"""

ADMIN = """{% extends "base.html" %}
{% block body %}<main>
<h1>{{ title }}: progress</h1>
<p>{{ raters }} raters registered, {{ finished }} finished;
{{ votes }} votes of {{ assigned }} questions handed out.</p>
<table><tr><th>method pair</th><th>questions handed out</th><th>votes</th></tr>
{% for row in pairs %}<tr><td>{{ row.a }} vs {{ row.b }}</td><td>{{ row.assigned }}</td>
<td>{{ row.votes }}</td></tr>
{% endfor %}</table>
<p>Export: <a href="{{ url_for('.admin_votes') }}?token={{ admin_token }}">votes (CSV)</a>,
<a href="{{ url_for('.admin_report', fmt='md') }}?token={{ admin_token }}">report (markdown)</a>,
<a href="{{ url_for('.admin_report', fmt='json') }}?token={{ admin_token }}">report (JSON)</a>,
<a href="{{ url_for('.admin_report', fmt='csv') }}?token={{ admin_token }}">report (CSV)</a>.</p>
</main>{% endblock %}
"""

TEMPLATES = {
    "base.html": BASE,
    "instructions.html": INSTRUCTIONS,
    "question.html": QUESTION,
    "done.html": DONE,
    "admin.html": ADMIN,
}
