// The wallet on this device cannot be opened: say why and what to do.

import type { AppError } from "../bindings";
import { useI18n } from "../i18n";
import { Button, ErrorText } from "../ui/bits";

export function ProblemScreen({ problem, retrying, onRetry }: { problem: AppError; retrying: boolean; onRetry: () => void }) {
  const { t } = useI18n();
  const keystore = problem.code === "keystore";
  return (
    <main class="page page-narrow problem" data-testid="problem">
      <div class="problem-mark" aria-hidden="true">
        !
      </div>
      <h1>{t.problemTitle}</h1>
      <p class="lead">{keystore ? t.problemKeystore : t.problemOther}</p>
      <ErrorText error={problem} />
      <Button variant="primary" busy={retrying} onClick={onRetry} data-testid="retry">
        {t.retry}
      </Button>
    </main>
  );
}
