"""Accessibility basics checked in the page itself (used on every page the crawl visits)."""

from __future__ import annotations

from typing import Any

#: Every control has a name a screen reader can read; every state badge says its state in
#: words (colour is never the only signal); every chart has the table of its numbers.
CHECK = """() => {
  const problems = [];
  const named = (el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
    if (el.title) return true;
    if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) return true;
    if (el.closest('label')) return true;
    const pressable = ['submit', 'button', 'reset'].includes(el.type);
    if (pressable && (el.value || el.textContent.trim())) return true;
    return false;
  };
  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach((el) => {
    const tag = el.tagName.toLowerCase();
    if (!named(el)) problems.push(`control without a label: <${tag} name=${el.name}>`);
  });
  document.querySelectorAll('button, a[href]').forEach((el) => {
    const text = (el.textContent || '').trim() || el.getAttribute('aria-label') || el.title;
    const html = el.outerHTML.slice(0, 80);
    if (!text) problems.push(`${el.tagName.toLowerCase()} without text: ${html}`);
  });
  document.querySelectorAll('[class*="state-"]').forEach((el) => {
    const html = el.outerHTML.slice(0, 80);
    if (!(el.textContent || '').trim()) problems.push(`state shown by colour only: ${html}`);
  });
  document.querySelectorAll('figure.chart [data-chart]').forEach((el) => {
    const table = el.closest('figure').querySelector('table');
    if (!table) problems.push(`chart ${el.dataset.chart} has no table`);
  });
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one <h1>');
  const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dupes.length) problems.push(`duplicate ids: ${[...new Set(dupes)].join(', ')}`);
  return problems;
}"""


def accessibility_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(CHECK)
    return problems
