/**
 * Shared sanitize-html settings of the name and rich-text rules. Internal to the validation
 * folder; `index.ts` does not re-export it.
 */

/**
 * Elements whose content is not prose: when such an element is dropped, its content goes with
 * it. sanitize-html's default drops the tags of a disallowed element but keeps its text, so
 * `<script>alert(1)</script>Bob` would leave `alert(1)Bob`, and `<style>`, `<template>` or
 * `<noscript>` bodies would leak markup-looking text. `svg` and `math` are listed because
 * their foreign-content parsing is where mutation-XSS payloads hide.
 */
export const NON_TEXT_TAGS: readonly string[] = Object.freeze([
  'script',
  'style',
  'textarea',
  'option',
  'select',
  'xmp',
  'noscript',
  'noembed',
  'noframes',
  'template',
  'title',
  'iframe',
  'object',
  'embed',
  'svg',
  'math',
]);
