//! What the commands set up before they act, from the global options: the sandbox, the
//! strategies folder, the engine on the database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::CliError;
use crate::db::Database;
use crate::engine::Engine;
use crate::error_code::ErrorCode;
use crate::registry::{SharedRegistry, StrategyRegistry};
use crate::sandbox::{Sandbox, SandboxLimits, StrategyComponent};
use crate::spoke_config::Environment;

/// The global options every command may use.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The database URL.
    pub database_url: String,
    /// The folder of strategy components.
    pub strategies_dir: PathBuf,
    /// The sandbox limits.
    pub limits: SandboxLimits,
}

impl Setup {
    /// A sandbox with the limits (no compilation cache: a command loads each component once).
    pub fn sandbox(&self) -> Result<Arc<Sandbox>, CliError> {
        Sandbox::new(self.limits.clone())
            .map_err(|error| CliError::new(ErrorCode::Sandbox, format!("{error:#}")))
    }

    /// The component in `file`, in a sandbox of its own.
    pub async fn component(&self, file: &Path) -> Result<Arc<StrategyComponent>, CliError> {
        self.sandbox()?
            .load_file(file)
            .await
            .map_err(|error| CliError::new(ErrorCode::LoadFailed, error))
    }

    /// The strategies of the strategies folder.
    pub async fn registry(&self) -> Result<StrategyRegistry, CliError> {
        StrategyRegistry::load_dir(&self.sandbox()?, &self.strategies_dir)
            .await
            .map_err(|error| CliError::new(ErrorCode::StrategiesFolder, error))
    }

    /// The database, connected, with Spoke's tables created where absent.
    pub async fn database(&self) -> Result<Database, CliError> {
        let db = Database::connect(&self.database_url).await?;
        db.prepare_schema().await?;
        Ok(db)
    }

    /// The engine on the database, serving the strategies folder.
    pub async fn engine(&self) -> Result<Engine, CliError> {
        let db = self.database().await?;
        let registry = self.registry().await?;
        Ok(engine(db, registry))
    }

    /// The engine on the database for an operation that runs no strategy.
    pub async fn engine_without_strategies(&self) -> Result<Engine, CliError> {
        Ok(engine(self.database().await?, StrategyRegistry::default()))
    }
}

fn engine(db: Database, registry: StrategyRegistry) -> Engine {
    Engine::new(db, SharedRegistry::new(registry), Environment::from_process())
}
