/** The `express-par check` arguments for the demo's settings (demo-app/.env; the secret is not among them). */
export function checkArguments(settings: Record<string, string | undefined>): string[];
