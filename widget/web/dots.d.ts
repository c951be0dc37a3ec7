// Type declarations for the Dots loader (`<script src="https://<dots>/widget/v1/dots.js">`).

export interface DotsAppearance {
  /** Light, dark, or the payee's system setting. */
  theme?: "light" | "dark" | "auto";
  /** `#rrggbb` colours. */
  colorPrimary?: string;
  colorBackground?: string;
  colorText?: string;
  /** A font family list; letters, digits, spaces, commas, quotes and dashes only. */
  fontFamily?: string;
  /** Corner radius in pixels, 0 to 24. */
  borderRadius?: number;
}

/** What a finished flow hands the host: opaque ids only. */
export interface DotsSuccess {
  flow_id: string;
  user_id: string | null;
  payout_link_id?: string;
  payout_transfer_id?: string;
}

export interface DotsExitError {
  code: string;
  message: string;
}

export interface DotsExitMetadata {
  /** `user`: the payee closed it; `host`: `exit()` was called; `done`: closed after success. */
  reason: "user" | "host" | "done" | "error";
}

/** Informational events; new names may be added. */
export type DotsEventName =
  | "OPEN"
  | "STEP"
  | "CODE_SENT"
  | "PHONE_VERIFIED"
  | "ERROR"
  | "SUCCESS"
  | (string & {});

export interface DotsOptions {
  /** The `token` from your server's `POST /v2/flows`. */
  token: string;
  /** An element or selector: the flow renders inline there instead of in a modal. */
  container?: HTMLElement | string;
  appearance?: DotsAppearance;
  /** A BCP 47 tag for how amounts are written (the words are English); defaults to the browser's language. */
  locale?: string;
  /** The nonce of your page's CSP, for the one `<style>` element the loader adds. */
  cspNonce?: string;
  onReady?: () => void;
  onEvent?: (name: DotsEventName, metadata: Record<string, unknown>) => void;
  onSuccess?: (result: DotsSuccess) => void;
  onExit?: (error: DotsExitError | null, metadata: DotsExitMetadata) => void;
}

export interface DotsHandle {
  /** Shows the flow. Called before it is ready, it opens as soon as it is. */
  open(): void;
  /** Closes the flow; `onExit` is called with reason `host`. */
  exit(): void;
  /** Removes the iframe and listeners. */
  destroy(): void;
}

export interface DotsStatic {
  version: 1;
  create(options: DotsOptions): DotsHandle;
}

declare global {
  interface Window {
    Dots: DotsStatic;
  }
}
