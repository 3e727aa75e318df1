//! The host imports of a strategy answered on the request's own connection: the strategy sees
//! exactly the rows the assignment will be made from. Every question is answered by the same
//! SQL, from the statement that asked it ahead ([`super::ahead`]) or from one of its own.

use async_trait::async_trait;

use super::ahead::PrefetchedAnswers;
use crate::db::Queries;
use crate::filter::ContactFilter;
use crate::model::Role;
use crate::question::{Answer, Question, QuestionScope};
use crate::source::{ContactSource, SourceError};

/// A [`ContactSource`] that owns the request's unit of work while the strategy runs.
pub(crate) struct TxSource<T: Queries> {
    pub(crate) tx: T,
    pub(crate) question_scope: QuestionScope,
    pub(crate) ahead: PrefetchedAnswers,
}

impl<T: Queries> TxSource<T> {
    /// The answer to `question`: asked ahead, or now, with the same SQL.
    async fn answer(&mut self, question: Question) -> Result<Answer, SourceError> {
        if let Some(answer) = self.ahead.get(&question) {
            return Ok(answer);
        }
        let answers = self
            .tx
            .answers(std::slice::from_ref(&question), &self.question_scope)
            .await?;
        answers
            .into_iter()
            .next()
            .ok_or_else(|| SourceError::Inconsistent("the database answered no question".to_string()))
    }
}

/// The error for an answer of the wrong kind (a host bug: answers follow their questions).
fn mismatched(answer: Answer) -> SourceError {
    SourceError::Inconsistent(format!("a question got an answer of another kind: {answer:?}"))
}

#[async_trait]
impl<T: Queries> ContactSource for TxSource<T> {
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> Result<u32, SourceError> {
        let question = Question::Count {
            filter: filter.clone(),
            cap,
        };
        match self.answer(question).await? {
            Answer::Count(count) => Ok(count),
            other => Err(mismatched(other)),
        }
    }

    async fn any_contact(&mut self, filter: &ContactFilter) -> Result<bool, SourceError> {
        let question = Question::Any {
            filter: filter.clone(),
        };
        match self.answer(question).await? {
            Answer::Flag(found) => Ok(found),
            other => Err(mismatched(other)),
        }
    }

    async fn assignment_user_has_role(&mut self, role: Role) -> Result<bool, SourceError> {
        match self.answer(Question::HasRole(role)).await? {
            Answer::Flag(held) => Ok(held),
            other => Err(mismatched(other)),
        }
    }
}
