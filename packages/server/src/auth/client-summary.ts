/**
 * A short, safe description of a client for security notices ("Firefox on Windows, IP 203.0.113.7").
 * The User-Agent header is chosen by whoever sends the request — an attacker who signs in with a
 * stolen password can put a phishing text or a link there — so a notice never quotes it: it names a
 * browser family and an operating system from fixed lists, and a validated IP address.
 */
import { isIP } from 'node:net';

/** Browser families, most specific first (Edge and Opera also say "Chrome"; Chrome also says "Safari"). */
const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\b(Chrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/\bokhttp\//, 'an Android app'],
  [/\bnode\b|\bundici\b/i, 'a Node.js program'],
];

/** Operating systems, most specific first (iPads say "Mac OS X"; Android says "Linux"). */
const SYSTEMS: readonly [RegExp, string][] = [
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bWindows\b/, 'Windows'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\b(Macintosh|Mac OS X)\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/** Longest summary, whatever the input. */
export const CLIENT_SUMMARY_MAX = 100;

/**
 * "<browser> on <OS>, IP <address>" from fixed vocabularies: no character of the User-Agent is copied,
 * and an IP that is not a valid address becomes "unknown".
 *
 * @example
 * clientSummary('Mozilla/5.0 (Windows NT 10.0; Win64; x64) … Chrome/126.0 Safari/537.36', '203.0.113.7');
 * // → 'Chrome on Windows, IP 203.0.113.7'
 */
export function clientSummary(userAgent: string, ip: string): string {
  const ua = userAgent.slice(0, 1000);
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1] ?? 'an unknown browser';
  const os = SYSTEMS.find(([re]) => re.test(ua))?.[1] ?? 'an unknown system';
  const address = isIP(ip) ? ip : 'unknown';
  return `${browser} on ${os}, IP ${address}`.slice(0, CLIENT_SUMMARY_MAX);
}
