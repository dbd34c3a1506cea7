/**
 * Client for the billing API.
 */
import { fetchJson } from "./http";
import type { Invoice } from "./types";

export const API_VERSION = "v2";

/** Options every request takes. */
export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type InvoiceId = string;

export enum Status {
  Draft = "draft",
  Paid = "paid",
}

/** Talks to the billing service over HTTPS. */
export class BillingClient {
  private readonly token: string;

  constructor(private baseUrl: string, token: string) {
    this.token = token;
  }

  /** Fetches one invoice by its id. */
  async getInvoice(id: InvoiceId, options: RequestOptions = {}): Promise<Invoice> {
    return fetchJson(`${this.baseUrl}/invoices/${id}`, options);
  }

  static fromEnv(): BillingClient {
    return new BillingClient(process.env.URL ?? "", "");
  }

  private headers(): Record<string, string> {
    return { Authorization: `Bearer ${this.token}` };
  }
}

export function formatAmount(cents: number, currency = "EUR"): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

export const isPaid = (invoice: Invoice): boolean => invoice.status === Status.Paid;

function retryDelay(attempt: number): number {
  return 2 ** attempt * 100;
}

export { retryDelay as backoff };
export * from "./types";
