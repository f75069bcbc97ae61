/**
 * safeReturnTo (RFC 9700 §4.11, open redirectors), case by case. hostile-browser.test.ts adds the
 * property-based run over generated values.
 */
import { describe, expect, it } from '@jest/globals';
import { safeReturnTo } from '../lib/protocol/return-to.js';

describe('safeReturnTo keeps same-origin paths', () => {
  it.each([
    ['/', '/'],
    ['/orders/42', '/orders/42'],
    ['/orders/42?tab=items#top', '/orders/42?tab=items#top'],
    ['/a/./b/../c', '/a/c'],
    ['/%2e%2e/x', '/x'],
    ['/search?q=%2F%2Fevil.example', '/search?q=%2F%2Fevil.example'],
    ['/caf\u00e9', '/caf%C3%A9'],
  ])('%s → %s', (value, expected) => {
    expect(safeReturnTo(value)).toBe(expected);
  });

  it('reduces a scheme-relative URL naming its own internal base host to that path (never off-site)', () => {
    expect(safeReturnTo('//express-par.invalid/x?y#z')).toBe('/x?y#z');
  });

  it('accepts 2048 characters and no more', () => {
    const long = `/${'a'.repeat(2047)}`;
    expect(safeReturnTo(long)).toBe(long);
    expect(safeReturnTo(`${long}a`)).toBe('/');
  });
});

describe('safeReturnTo sends everything else to the fallback', () => {
  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['a number', 42],
    ['an array', ['/a']],
    ['an empty string', ''],
    ['a relative path', 'orders'],
    ['an absolute URL', 'https://evil.example/'],
    ['a scheme-relative URL', '//evil.example'],
    ['a scheme-relative URL whose host does not parse', '//['],
    ['a backslash after the slash', '/\\evil.example'],
    ['a backslash inside', '/a\\b'],
    ['a tab', '/a\tb'],
    ['a newline', '/a\nb'],
    ['a NUL', '/a\u0000'],
    ['a unit separator (U+001F)', '/a\u001f'],
    ['DEL (U+007F)', '/a\u007f'],
    ['dot segments that collapse into //host', '/.//evil.example'],
    ['dot segments climbing above the root into //host', '/a/../..//evil.example'],
    ['javascript:', 'javascript:alert(1)'],
  ])('%s', (_name, value) => {
    expect(safeReturnTo(value)).toBe('/');
    expect(safeReturnTo(value, '/home')).toBe('/home');
  });

  it('keeps printable characters next to the refused ones: space and "~" are fine', () => {
    expect(safeReturnTo('/a b')).toBe('/a%20b');
    expect(safeReturnTo('/a~b')).toBe('/a~b');
  });
});
